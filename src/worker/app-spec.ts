// APP is `path/to/file[:export]` or `path/to/file:factory()` (Gunicorn's `module:app` and
// `module:create_app()`), resolved against the working directory.
import { resolve } from 'node:path';

export interface AppSpec {
  file: string;
  /** The export to use; absent means default, then app, then module.exports. */
  exportName?: string;
  /** `name()`: call the export (possibly async) once per worker and serve what it returns. */
  factory: boolean;
}

export function parseAppSpec(spec: string, cwd: string): AppSpec {
  const m = /^(.*?)(?::([A-Za-z_$][\w$]*)(\(\))?)?$/.exec(spec.trim());
  const path = m?.[1] ?? '';
  if (!m || path === '') throw new Error(`invalid APP "${spec}": expected path/to/file[:export] or path/to/file:factory()`);
  return { file: resolve(cwd, path), exportName: m[2], factory: Boolean(m[3]) };
}
