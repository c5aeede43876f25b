// --reload (development): the master watches the app's directory and replaces the workers one
// at a time, as on HUP, when a source file changes. Gunicorn's reloader runs in each worker
// and watches the modules it imported; narwhal's runs once, in the master, so a change is one
// rolling restart (no request dropped, the config file re-read) rather than every worker
// exiting at once, and an edit that breaks the app leaves the old workers serving.
//   - watched: files with a source extension under the app's directory, and every file named
//     by --reload-extra-file (a directory: every file under it);
//   - ignored: node_modules, dot-directories (.git, .next …) and files narwhal itself writes
//     (logs, the pidfile, sockets); symlinks are not followed, and nothing deeper than 16
//     directories is watched;
//   - debounced: a burst of changes (an editor's save, git checkout) is one reload.
import { extname, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log/logger';

const SOURCE_EXTENSIONS = new Set(['.js', '.cjs', '.mjs', '.ts', '.cts', '.mts', '.jsx', '.tsx', '.json']);
const DEBOUNCE_MS = 300;
/** How deep under the app's directory (or an extra path) files are watched. */
const MAX_DEPTH = 16;

export interface ReloaderOptions {
  /** The app's directory, watched for source files. */
  appDir: string;
  /** Watched whatever their extension (a directory: everything under it). */
  extraPaths: string[];
  /** Files narwhal writes (logs, pidfile, unix sockets): a change to them is not a code change. */
  ownFiles: string[];
  log: Logger;
  reload: () => void;
}

export interface Reloader {
  /** Resolves once the initial scan is done (changes after it are seen). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function startReloader({ appDir, extraPaths, ownFiles, log, reload }: ReloaderOptions): Reloader {
  const own = new Set(ownFiles.map((f) => resolve(f)));
  const extra = extraPaths.map((p) => resolve(p));
  const underExtra = (path: string) => extra.some((p) => path === p || path.startsWith(p + sep));
  const ignored = (path: string, stats?: { isFile(): boolean; isDirectory(): boolean }) => {
    const abs = resolve(path);
    if (own.has(abs)) return true;
    const rel = relative(appDir, abs).split(sep);
    if (rel.includes('node_modules') || rel.some((part) => part.startsWith('.') && part !== '..')) return !underExtra(abs);
    if (!stats || stats.isDirectory()) return false;
    if (!stats.isFile()) return true; // sockets, fifos
    return !underExtra(abs) && !SOURCE_EXTENSIONS.has(extname(abs));
  };
  // Symlinks are not followed (a link to / or to a loop would have the master walk and watch
  // anything), and directories deeper than MAX_DEPTH are not watched.
  const watcher: FSWatcher = watch([appDir, ...extra], { ignored, ignoreInitial: true, persistent: false, followSymlinks: false, depth: MAX_DEPTH });
  let timer: NodeJS.Timeout | null = null;
  const changed = new Set<string>();
  const onChange = (path: string) => {
    changed.add(relative(appDir, resolve(path)) || path);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const files = [...changed];
      changed.clear();
      log.info(`Reloading: ${files.slice(0, 3).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more` : ''} changed`);
      reload();
    }, DEBOUNCE_MS);
  };
  watcher.on('add', onChange).on('change', onChange).on('unlink', onChange);
  watcher.on('error', (err) => log.warning(`Reload watcher: ${(err as Error).message}`));
  const ready = new Promise<void>((done) => watcher.once('ready', () => done()));
  log.info(`Reload: watching ${appDir}${extra.length ? ` and ${extra.join(', ')}` : ''} (node_modules ignored)`);
  return {
    ready,
    async close() {
      if (timer) clearTimeout(timer);
      await watcher.close();
    },
  };
}
