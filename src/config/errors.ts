// Errors of configuration, apart from the loader so that a worker can tell one without loading
// the settings registry and the config loader (master-only code).

/** A setting refused: rendered as one line; the process exits with code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
}
