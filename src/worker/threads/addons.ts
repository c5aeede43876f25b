// A native addon that is not context-aware (the old NODE_MODULE registration) loads once per
// process: the process's own copy of the app has it, and the same require() in a thread fails with
// ERR_DLOPEN_FAILED "Module did not self-register". Said plainly, with the addon's path.
const NOT_SELF_REGISTERED = /Module did not self-register: '([^']+)'/;

/** The refusal for an app whose addon cannot load in a thread; null for any other error. */
export function threadUnsafeAddon(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException | null;
  if (e?.code !== 'ERR_DLOPEN_FAILED') return null;
  const addon = NOT_SELF_REGISTERED.exec(String(e.message))?.[1];
  if (!addon) return null;
  return `the app loads the native addon ${addon}, which is not context-aware: Node loads it once per process, ` +
    'and --threads runs a copy of the app in each thread; run with --threads 1 (more --workers instead), ' +
    'or use a build of the addon made with Node-API or NODE_MODULE_INIT';
}
