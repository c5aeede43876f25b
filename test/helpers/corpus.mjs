// Gunicorn's raw request corpus (../shared/conformance/gunicorn-requests), decoded as its
// README says: drop real newlines, then turn the escapes \r \n \t \0 \xHH into bytes.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './server.mjs';

export const CORPUS = join(ROOT, '..', 'shared', 'conformance', 'gunicorn-requests');

export function decode(text) {
  const flat = text.replace(/\n/g, '');
  const bytes = [];
  for (let i = 0; i < flat.length; i++) {
    const c = flat[i];
    if (c === '\\' && i + 1 < flat.length) {
      const n = flat[i + 1];
      if (n === 'r') { bytes.push(13); i++; continue; }
      if (n === 'n') { bytes.push(10); i++; continue; }
      if (n === 't') { bytes.push(9); i++; continue; }
      if (n === '0') { bytes.push(0); i++; continue; }
      if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(flat.slice(i + 2, i + 4))) {
        bytes.push(parseInt(flat.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
    }
    bytes.push(flat.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

export function corpusFiles(kind) {
  const dir = join(CORPUS, kind);
  if (!existsSync(dir)) throw new Error(`conformance corpus missing: ${dir} (../shared must sit beside the repo)`);
  return readdirSync(dir).filter((f) => f.endsWith('.http')).sort()
    .map((name) => ({ name, bytes: decode(readFileSync(join(dir, name), 'latin1')) }));
}

/** Status codes of every response in a raw HTTP/1.x reply stream. */
export function statuses(raw) {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
