// Loads the app's module the way its format asks: CommonJS with require(), an ES module (or a
// TypeScript file) with import(). import() would load both, but for a CommonJS file Node's ESM
// loader costs a worker ~25 ms of start-up (resolution, an asynchronous read, the CommonJS
// export lexer) that require() does not, and a CommonJS app is what most Node servers are.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importFile } from '../platform/import-file';

/** A module's exports as import() shows them: CommonJS's module.exports is `default`. */
export type ModuleExports = Record<string, unknown>;

/** The "type" of the package a file belongs to: its nearest package.json, as Node decides. */
function packageType(file: string): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      // no package.json here: look further up
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: string }).type;
      } catch {
        return 'invalid'; // import() reports the broken package.json as Node words it
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Whether Node treats the file as CommonJS by its name and package (not by its syntax). */
function isCommonJsFile(file: string): boolean {
  const ext = extname(file);
  if (ext === '.cjs') return true;
  if (ext !== '.js') return false;
  const type = packageType(file);
  return type === undefined || type === 'commonjs';
}

export async function loadModule(file: string): Promise<ModuleExports> {
  if (!isCommonJsFile(file)) return importFile(pathToFileURL(file).href);
  let exports: unknown;
  try {
    exports = createRequire(file)(file);
  } catch (err) {
    // A .js file in a package without "type" that turns out to be an ES module with top-level
    // await (Node detects ES syntax, but require() cannot wait): import() loads it.
    if ((err as NodeJS.ErrnoException)?.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
    return importFile(pathToFileURL(file).href);
  }
  // An ES module found by its syntax comes back as its namespace (with require()'s __esModule).
  if (Object.prototype.toString.call(exports) === '[object Module]') {
    const { __esModule: _marker, ...namespace } = exports as ModuleExports;
    return namespace;
  }
  return { default: exports };
}
