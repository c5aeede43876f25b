// import() of a user's file: the app, a config file. Under plain Node that is import() itself.
// In the single executable, import() in the embedded main script resolves built-in modules
// only (Node 26: ERR_UNKNOWN_BUILTIN_MODULE for a file: URL), so the binary imports through a
// function compiled with the main context's default loader, which loads any module as Node's
// own entry would. That option still prints an ExperimentalWarning, which is not the user's
// concern: that one warning is dropped.
import vm from 'node:vm';
import { isSingleExecutable } from './sea';

type ImportFile = (url: string) => Promise<Record<string, unknown>>;

let viaDefaultLoader: ImportFile | undefined;

/** Runs `fn` with the one ExperimentalWarning about the default loader dropped. */
function quietAboutTheLoader<T>(fn: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = function emitOtherWarnings(this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (String((warning as Error)?.message ?? warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    return (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emitWarning;
  }
}

function compileViaDefaultLoader(): ImportFile {
  const loader = (vm.constants as unknown as { USE_MAIN_CONTEXT_DEFAULT_LOADER?: unknown }).USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (!loader) return (url) => import(url) as Promise<Record<string, unknown>>;
  const imported = quietAboutTheLoader(() => new vm.Script('(url) => import(url)', { importModuleDynamically: loader as never }).runInThisContext() as ImportFile);
  // Node warns when the import starts (synchronously), not when the function is compiled.
  return (url) => quietAboutTheLoader(() => imported(url));
}

export function importFile(url: string): Promise<Record<string, unknown>> {
  if (!isSingleExecutable()) return import(url) as Promise<Record<string, unknown>>;
  viaDefaultLoader ??= compileViaDefaultLoader();
  return viaDefaultLoader(url);
}
