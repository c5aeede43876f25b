// What the launcher (src/launcher.cjs, dist/narwhal.js) hands the bundle it runs. Run any other
// way (the single binary, `node dist/narwhal-main.js`), the bundle has neither and needs neither.
type ImportFile = (url: string) => Promise<Record<string, unknown>>;

const lent = globalThis as Record<symbol, unknown>;

/**
 * import() of a user's file: the app, a config file. The launcher runs the bundle as a vm.Script
 * compiled from V8's code cache, where Node 20 cannot run import()
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): it lends its own. The build refuses a bundle with
 * any other import() (build/bundle.mjs).
 */
export const importFile: ImportFile = (lent[Symbol.for('narwhal.importFile')] as ImportFile | undefined)
  ?? ((url) => import(url) as Promise<Record<string, unknown>>);

/** What became of this process's code cache, for a debug line: null without the launcher. */
export function codeCacheReport(): string | null {
  const report = lent[Symbol.for('narwhal.codeCache')] as { file: string; outcome: string } | undefined;
  return report ? `Code cache ${report.file}: ${report.outcome}` : null;
}
