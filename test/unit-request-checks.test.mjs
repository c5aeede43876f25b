// The request checks narwhal runs before the app (src/http/request-checks.ts): Gunicorn's limits
// on the request line and header fields, and what Node's parser lets through that narwhal refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { requestLimits, serverOptions, maxHeadersCount, checkRequest, checkHttp2Request } = await importSource('src/http/request-checks.ts');

const LIMITS = requestLimits({ limit_request_line: 4094, limit_request_fields: 100, limit_request_field_size: 8190, http2_max_header_list_size: 65536 });

function req(method, url, rawHeaders = ['Host', 'example.com'], { major = 1, minor = 1, headers = {} } = {}) {
  return { method, url, rawHeaders, httpVersionMajor: major, httpVersionMinor: minor, headers };
}

test('requestLimits: field size 0 means Gunicorn\'s maximum; serverOptions sizes the header cap from the limits', () => {
  const zero = requestLimits({ limit_request_line: 0, limit_request_fields: 0, limit_request_field_size: 0, http2_max_header_list_size: 1 });
  assert.equal(zero, { line: 0, fields: 0, fieldSize: 8190, headerList: 1 });
  assert.equal(serverOptions(LIMITS), { maxHeaderSize: 16 * 1024, requireHostHeader: false });
  const big = requestLimits({ limit_request_line: 32768, limit_request_fields: 10, limit_request_field_size: 16384, http2_max_header_list_size: 1 });
  assert.is(serverOptions(big).maxHeaderSize, 32768 + 16384 + 512);
  assert.is(maxHeadersCount(LIMITS), 101);
  assert.is(maxHeadersCount(zero), 0);
});

test('request line: at the limit passes, one byte over is 414 (CRLF counted as Gunicorn does); 0 = no limit', () => {
  // "GET " + url + " HTTP/1.1\r\n" = 3 + url + 12 bytes
  const atLimit = `/${'a'.repeat(4094 - 12 - 3 - 1)}`;
  assert.is(checkRequest(req('GET', atLimit), LIMITS), 0);
  assert.is(checkRequest(req('GET', `${atLimit}a`), LIMITS), 414);
  assert.is(checkRequest(req('GET', `/${'a'.repeat(100_000)}`), { ...LIMITS, line: 0 }), 0);
});

test('request targets: origin-form; * for OPTIONS only; absolute URIs must parse; HTTP/2.0 over HTTP/1 refused', () => {
  assert.is(checkRequest(req('OPTIONS', '*'), LIMITS), 0);
  assert.is(checkRequest(req('GET', '*'), LIMITS), 400);
  assert.is(checkRequest(req('GET', 'http://example.com/x'), LIMITS), 0);
  assert.is(checkRequest(req('GET', 's://]ufd/:'), LIMITS), 400);
  assert.is(checkRequest(req('CONNECT', 'example.com:443'), LIMITS), 0);
  assert.is(checkRequest(req('GET', '/', undefined, { major: 2, minor: 0 }), LIMITS), 400);
});

test('header fields: count and size limits are 431; exactly at the limits passes', () => {
  const fields = (n) => Array.from({ length: n }, (_, i) => [`X-F${i}`, 'v']).flat();
  assert.is(checkRequest(req('GET', '/', fields(100)), LIMITS), 0);
  assert.is(checkRequest(req('GET', '/', fields(101)), LIMITS), 431);
  assert.is(checkRequest(req('GET', '/', fields(5000)), { ...LIMITS, fields: 0 }), 0);
  // name + ": " + value + CRLF
  const value = 'v'.repeat(8190 - 'X-Big'.length - 4);
  assert.is(checkRequest(req('GET', '/', ['X-Big', value]), LIMITS), 0);
  assert.is(checkRequest(req('GET', '/', ['X-Big', `${value}v`]), LIMITS), 431);
});

test('ambiguous fields: two Hosts, two Content-Types, underscore framing fields, Transfer-Encoding in HTTP/1.0 are 400', () => {
  assert.is(checkRequest(req('GET', '/', ['Host', 'a', 'host', 'b']), LIMITS), 400);
  assert.is(checkRequest(req('POST', '/', ['Host', 'a', 'Content-Type', 'x/y', 'CONTENT-TYPE', 'x/z']), LIMITS), 400);
  assert.is(checkRequest(req('POST', '/', ['Host', 'a', 'Content_Length', '5']), LIMITS), 400);
  assert.is(checkRequest(req('POST', '/', ['Host', 'a', 'transfer_encoding', 'chunked']), LIMITS), 400);
  assert.is(checkRequest(req('POST', '/', ['Host', 'a', 'Transfer-Encoding', 'chunked'], { minor: 0 }), LIMITS), 400);
  assert.is(checkRequest(req('POST', '/', ['Host', 'a', 'Transfer-Encoding', 'chunked'], { minor: 1 }), LIMITS), 0);
  assert.is(checkRequest(req('GET', '/', []), LIMITS), 0, 'no Host is served, as Gunicorn does');
  assert.is(checkRequest(req('GET', '/', ['Hosts', 'a', 'Host', 'b']), LIMITS), 0);
});

test('HTTP/2: CONNECT 405, :path against the line limit, the header list limit 431, pseudo-headers not counted as fields, Host against :authority', () => {
  const h2 = (method, path, raw, headers = {}) => ({ method, url: path, rawHeaders: raw, headers });
  const pseudo = [':method', 'GET', ':path', '/', ':scheme', 'https', ':authority', 'a.example'];
  assert.is(checkHttp2Request(h2('CONNECT', undefined, pseudo), LIMITS), 405);
  assert.is(checkHttp2Request(h2('GET', '/', pseudo, { ':authority': 'a.example' }), LIMITS), 0);
  assert.is(checkHttp2Request(h2('GET', `/${'a'.repeat(4094)}`, pseudo), LIMITS), 414);
  assert.is(checkHttp2Request(h2('GET', '/', [...pseudo, 'x-big', 'v'.repeat(70_000)]), { ...LIMITS, fieldSize: 1e6 }), 431);
  const fields = Array.from({ length: 100 }, (_, i) => [`x-f${i}`, 'v']).flat();
  assert.is(checkHttp2Request(h2('GET', '/', [...pseudo, ...fields]), LIMITS), 0, '4 pseudo-headers + 100 fields');
  assert.is(checkHttp2Request(h2('GET', '/', [...pseudo, ...fields, 'x-one-more', 'v']), LIMITS), 431);
  assert.is(checkHttp2Request(h2('GET', '/', [...pseudo, 'host', 'b.example'], { host: 'b.example', ':authority': 'a.example' }), LIMITS), 400);
  assert.is(checkHttp2Request(h2('GET', '/', [...pseudo, 'host', 'a.example'], { host: 'a.example', ':authority': 'a.example' }), LIMITS), 0);
});

test.run();
