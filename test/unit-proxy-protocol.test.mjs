// The PROXY protocol preamble parser (src/http/proxy-protocol.ts): v1 text and v2 binary, whole,
// cut short and malformed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { parseProxyHeader, NONE, MORE, INVALID } = await importSource('src/http/proxy-protocol.ts');

const v1 = (line, rest = 'GET / HTTP/1.1\r\n') => Buffer.from(`${line}\r\n${rest}`, 'latin1');
const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v2 preamble: version/command byte, family/transport byte, address block. */
function v2(verCmd, famProto, body, extra = Buffer.alloc(0)) {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, famProto]), len, body, extra]);
}
function v4Block(src, dst, sport, dport) {
  const b = Buffer.alloc(12);
  src.split('.').forEach((n, i) => { b[i] = Number(n); });
  dst.split('.').forEach((n, i) => { b[4 + i] = Number(n); });
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

test('v1 TCP4 and TCP6: the client address, port and family; length is the line with its CRLF', () => {
  const line = 'PROXY TCP4 203.0.113.7 198.51.100.1 56324 443';
  assert.equal(parseProxyHeader(v1(line)), { length: line.length + 2, address: '203.0.113.7', port: 56324, family: 'IPv4' });
  const six = 'PROXY TCP6 2001:db8::1 2001:db8::2 65535 80';
  assert.equal(parseProxyHeader(v1(six)), { length: six.length + 2, address: '2001:db8::1', port: 65535, family: 'IPv6' });
});

test('v1 UNKNOWN keeps the real peer (no address), whatever follows it on the line', () => {
  assert.equal(parseProxyHeader(v1('PROXY UNKNOWN')), { length: 15 });
  assert.equal(parseProxyHeader(v1('PROXY UNKNOWN ffff::1 ffff::2 1 2')), { length: 35 });
});

test('v1 malformed: wrong family, address of the other family, bad ports, missing fields, bare LF, too long', () => {
  for (const line of [
    'PROXY TCP5 1.2.3.4 5.6.7.8 1 2',
    'PROXY TCP4 2001:db8::1 5.6.7.8 1 2',
    'PROXY TCP6 1.2.3.4 ::1 1 2',
    'PROXY TCP4 1.2.3.4 5.6.7.8 65536 80',
    'PROXY TCP4 1.2.3.4 5.6.7.8 -1 80',
    'PROXY TCP4 1.2.3.4 5.6.7.8 80',
    'PROXY TCP4 1.2.3.4  5.6.7.8 1 2',
    'PROXY TCP4 1.2.3.256 5.6.7.8 1 2',
  ]) assert.is(parseProxyHeader(v1(line)), INVALID, line);
  assert.is(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nGET /', 'latin1')), INVALID, 'LF without CR');
  assert.is(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', 'latin1')), INVALID, 'CR not followed by LF');
  assert.is(parseProxyHeader(Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`, 'latin1')), INVALID, 'no CRLF within 107 bytes');
});

test('v1 cut short: MORE until the line is complete', () => {
  const whole = v1('PROXY TCP4 10.0.0.1 10.0.0.2 1000 80', '');
  for (const n of [1, 3, 6, 20, whole.length - 1]) assert.is(parseProxyHeader(whole.subarray(0, n)), MORE, `${n} bytes`);
  assert.is(parseProxyHeader(Buffer.alloc(0)), MORE);
  assert.equal(parseProxyHeader(whole), { length: whole.length, address: '10.0.0.1', port: 1000, family: 'IPv4' });
});

test('no preamble: plain HTTP, or a P or CR that is not one, is NONE', () => {
  for (const s of ['GET / HTTP/1.1\r\n', 'POST / HTTP/1.1\r\n', 'PUT / HTTP/1.1\r\n', 'PROXZ ', '\r\n\r\nX']) {
    assert.is(parseProxyHeader(Buffer.from(s, 'latin1')), NONE, JSON.stringify(s));
  }
});

test('v2 PROXY over TCP/IPv4 and IPv6: address and source port; length covers the address block and TLVs', () => {
  const tlv = Buffer.from([0x04, 0x00, 0x01, 0x00]); // a NOOP TLV, inside the stated length
  const four = v2(0x21, 0x11, Buffer.concat([v4Block('192.0.2.10', '192.0.2.1', 40000, 443), tlv]), Buffer.from('GET /'));
  assert.equal(parseProxyHeader(four), { length: 16 + 16, address: '192.0.2.10', port: 40000, family: 'IPv4' });
  const block6 = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(block6, 0);
  block6.writeUInt16BE(8443, 32);
  assert.equal(parseProxyHeader(v2(0x21, 0x21, block6)), { length: 52, address: '2001:db8::1', port: 8443, family: 'IPv6' });
  const mapped = Buffer.alloc(36);
  Buffer.from('00000000000000000000ffffc0000207', 'hex').copy(mapped, 0);
  assert.is(parseProxyHeader(v2(0x21, 0x21, mapped)).address, '::ffff:192.0.2.7');
});

test('v2 LOCAL, AF_UNSPEC and AF_UNIX keep the real peer', () => {
  assert.equal(parseProxyHeader(v2(0x20, 0x11, v4Block('1.2.3.4', '5.6.7.8', 1, 2))), { length: 28 });
  assert.equal(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0))), { length: 16 });
  assert.equal(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))), { length: 232 });
});

test('v2 malformed: version 1, an unknown command, family or transport, an address block too short', () => {
  const block = v4Block('1.2.3.4', '5.6.7.8', 1, 2);
  assert.is(parseProxyHeader(v2(0x11, 0x11, block)), INVALID, 'version 1');
  assert.is(parseProxyHeader(v2(0x22, 0x11, block)), INVALID, 'command 2');
  assert.is(parseProxyHeader(v2(0x21, 0x41, block)), INVALID, 'family 4');
  assert.is(parseProxyHeader(v2(0x21, 0x13, block)), INVALID, 'transport 3');
  assert.is(parseProxyHeader(v2(0x21, 0x11, block.subarray(0, 8))), INVALID, 'IPv4 in 8 bytes');
  assert.is(parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(20))), INVALID, 'IPv6 in 20 bytes');
});

test('v2 cut short: MORE within the signature, the header, and the stated length', () => {
  const whole = v2(0x21, 0x11, v4Block('1.2.3.4', '5.6.7.8', 1, 2));
  for (const n of [1, 5, 12, 15, 16, whole.length - 1]) assert.is(parseProxyHeader(whole.subarray(0, n)), MORE, `${n} bytes`);
  assert.is(parseProxyHeader(whole).address, '1.2.3.4');
});

test.run();
