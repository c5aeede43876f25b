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

/**
 * Files whose verdict in Gunicorn's own test suite depends on a non-default setting (its
 * `<name>.py` calls `cfg.set(...)`): sent to a server started with narwhal's equivalent flags.
 */
export const WITH_SETTINGS = {
  'invalid/010.http': ['--limit-request-field-size', '10'],
  'invalid/011.http': ['--limit-request-fields', '2'],
  'invalid/012.http': ['--limit-request-field-size', '98'],
  'invalid/limit_header_default_01.http': ['--limit-request-field-size', '0'],
  'valid/024.http': ['--limit-request-line', '8200', '--limit-request-field-size', '8210'],
  'valid/026.http': ['--limit-request-line', '0', '--limit-request-field-size', '8210'],
  // PROXY protocol preambles (pp_03 has none: served as plain HTTP, as Gunicorn does).
  'valid/pp_01.http': ['--proxy-protocol'],
  'valid/pp_02.http': ['--proxy-protocol'],
  'valid/pp_03.http': ['--proxy-protocol'],
  'valid/pp_04.http': ['--proxy-protocol'],
  'valid/pp_05.http': ['--proxy-protocol'],
  'invalid/pp_01.http': ['--proxy-protocol'],
  'invalid/pp_02.http': ['--proxy-protocol'],
  'invalid/pp_03.http': ['--proxy-protocol'],
};

/**
 * Where narwhal's answer differs from Gunicorn's verdict, and why. The conformance test skips
 * these (and says so); everything else in the corpus must pass.
 */
export const DIFFERENCES = {
  // Node's parser (llhttp) is stricter than Gunicorn's; narwhal keeps it strict rather than
  // turning on insecureHTTPParser.
  'valid/009.http': 'Transfer-Encoding: identity with Content-Length: llhttp refuses CL together with TE (400)',
  'valid/013.http': 'chunk extensions with whitespace ("5; some; parameters"): llhttp refuses them (400)',
  'valid/027.http': 'raw non-ASCII bytes in the request target: llhttp refuses them (400)',
  'valid/031.http': 'method "-BLARGH" is not a method llhttp knows (400)',
  'valid/031compat.http': 'method "-blargh" is not a method llhttp knows (400)',
  'valid/031compat2.http': 'method "-blargh" is not a method llhttp knows (400)',
  // Valid for Gunicorn only with a lenient setting narwhal does not have.
  'valid/028.http': 'needs Gunicorn strip_header_spaces ("Content-Length : 3"); refused 400 like Gunicorn by default',
  'valid/040.http': 'needs Gunicorn header_map=drop; narwhal refuses Content_Length / Transfer_Encoding (400), as header_map=refuse',
  'valid/040_compat.http': 'needs Gunicorn header_map=drop; narwhal refuses Content_Length / Transfer_Encoding (400), as header_map=refuse',
  'invalid/019.http': 'needs Gunicorn secure_scheme_headers (conflicting X-Forwarded-Proto / X-Forwarded-Ssl refused 400), which narwhal does not have',
  // Not answerable by a server on a live connection.
  'valid/099.http': 'corpus artefact: Content-Length 17914 but a shorter body, so a server waits for the rest',
  'valid/rfc9112_target_authority_connect_01.http': 'CONNECT goes to Node\'s "connect" event, not to a request listener; an app without a "connect" listener gets 405',
  'valid/rfc9112_target_authority_ipv6_01.http': 'CONNECT goes to Node\'s "connect" event, not to a request listener; an app without a "connect" listener gets 405',
  'invalid/rfc9110_trailer_forbidden_host_01.http': 'Host in chunked trailers: trailers arrive after the app has the request; Node keeps them apart in req.trailers',
};

/** Incomplete requests: a server can only tell them from slow clients once the client closes. */
export const TRUNCATED = new Set(['invalid/001.http', 'invalid/rfc9112_chunked_missing_final_crlf_01.http']);

/** The status narwhal answers where it is more specific than 400 (limits). */
export const EXPECTED_STATUS = {
  'invalid/006.http': 414, // request line over limit_request_line
  'invalid/007.http': 431, // one field over limit_request_field_size
  'invalid/008.http': 431,
  'invalid/009.http': 431, // more than limit_request_fields
  'invalid/010.http': 431,
  'invalid/011.http': 431,
  'invalid/012.http': 431,
  'invalid/017.http': 431,
  'invalid/limit_header_default_01.http': 431,
};

/**
 * Valid files answered with more than one response (pipelined requests). 019-022 hold two
 * request lines too, but the first closes the connection (HTTP/1.0, Connection: close, or an
 * HTTP/1.0 keep-alive whose response has no Content-Length, which Node then closes) or the
 * second is the first's body: one response each.
 */
export const RESPONSES = { 'valid/018.http': 2, 'valid/023.http': 2, 'valid/pp_02.http': 2 };
