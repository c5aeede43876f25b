// Node's own compile cache (module.enableCompileCache, Node >= 22.1) for the workers: each
// worker starts with NODE_COMPILE_CACHE set, so V8's compiled code for narwhal's worker bundle
// and for the app's modules (the larger cost for Next.js or NestJS) is read from disk instead of
// compiled again by every worker that starts. Node keys what it stores by its version, the
// V8 flags and each file's contents, so a cache made by another Node or for a changed file is
// never used; a directory it cannot write is read only, or ignored.
//
// What is in the cache runs as code: the directory must be one nobody else can write. The
// default is a directory per worker uid under the OS temp dir, created 0700; a directory
// owned by someone else or writable by others is not used (logged once at boot).
import { chownSync, lstatSync, mkdirSync } from 'node:fs';
import nodeModuleApi from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment variable Node reads at start-up to enable its compile cache. */
export const COMPILE_CACHE_ENV = 'NODE_COMPILE_CACHE';

interface ModuleCompileCache {
  enableCompileCache?: (dir?: string) => { status: number; message?: string; directory?: string };
  flushCompileCache?: () => void;
  getCompileCacheDir?: () => string | undefined;
}

const nodeModule = (): ModuleCompileCache => nodeModuleApi as unknown as ModuleCompileCache;

/** Whether this Node has a compile cache (Node >= 22.1). */
export function hasCompileCache(): boolean {
  return typeof nodeModule().enableCompileCache === 'function';
}

export interface CompileCachePlan {
  /** The directory workers get as NODE_COMPILE_CACHE; null: none. */
  dir: string | null;
  /** What was decided and why, for the boot log. */
  describe: string;
}

/** The default directory for workers running as `uid`. */
export const defaultCompileCacheDir = (uid: number) => join(tmpdir(), `narwhal-compile-cache-${uid}`);

/**
 * The compile cache the workers get. `setting`: a directory, `auto` (the per-uid default) or
 * `off`. The default directory is created (0700, owned by the workers' uid) when missing; any
 * directory is refused when another user owns it or others may write it.
 */
export function planCompileCache(setting: string, worker: { uid: number; gid: number }): CompileCachePlan {
  if (setting === 'off') return { dir: null, describe: 'off (compile_cache = off)' };
  if (!hasCompileCache()) return { dir: null, describe: `not available on Node.js ${process.version} (needs 22.1 or later)` };
  const dir = setting === 'auto' ? defaultCompileCacheDir(worker.uid) : setting;
  try {
    if (setting === 'auto') {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const made = lstatSync(dir);
      if (made.uid !== worker.uid && made.uid === process.getuid?.()) chownSync(dir, worker.uid, worker.gid);
    }
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) return { dir: null, describe: `not used: ${dir} is not a directory` };
    if (stat.uid !== worker.uid && stat.uid !== 0) return { dir: null, describe: `not used: ${dir} belongs to uid ${stat.uid}, not the workers' (${worker.uid}) or root` };
    if ((stat.mode & 0o022) !== 0) return { dir: null, describe: `not used: others may write to ${dir} (mode ${(stat.mode & 0o777).toString(8)})` };
  } catch (err) {
    return { dir: null, describe: `not used: ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  return { dir, describe: `${dir} (Node's compile cache, for the workers)` };
}

/**
 * In a worker, once the app is loaded: writes what was compiled so far to the cache now, rather
 * than when the process exits (a worker may run for days, or be killed).
 */
export function flushCompileCache(): void {
  nodeModule().flushCompileCache?.();
}

/** The directory this process compiles from, if any: for a worker's debug line. */
export function compileCacheDir(): string | undefined {
  return nodeModule().getCompileCacheDir?.();
}

/**
 * In dist/narwhal.js, before the master's bundle loads: Node's compile cache for narwhal's own
 * code, under the same rules as the workers'. Settings are not read yet: `--compile-cache` on the
 * command line or NARWHAL_COMPILE_CACHE decides (off, a directory, or the per-user default); a
 * value from a config file applies to the workers only. Returns what was decided.
 */
export function enableOwnCompileCache(argv: readonly string[], env: NodeJS.ProcessEnv): string {
  const i = argv.indexOf('--compile-cache');
  const given = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--compile-cache='))?.slice('--compile-cache='.length);
  const setting = given ?? env.NARWHAL_COMPILE_CACHE ?? 'auto';
  if (setting === 'off') return 'off';
  const uid = process.getuid?.() ?? 0;
  const plan = planCompileCache(setting, { uid, gid: process.getgid?.() ?? 0 });
  if (!plan.dir) return plan.describe;
  const result = nodeModule().enableCompileCache?.(plan.dir);
  return result?.directory ?? plan.describe;
}
