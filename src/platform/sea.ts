// Whether this process is narwhal's single executable (build/binary.mjs) rather than a bundle
// run by `node`: it then re-runs itself for workers and upgrades, and loads users' files its
// own way (import-file.ts).
let sea: boolean | undefined;

export function isSingleExecutable(): boolean {
  if (sea !== undefined) return sea;
  try {
    sea = (require('node:sea') as { isSea(): boolean }).isSea();
  } catch {
    sea = false;
  }
  return sea;
}
