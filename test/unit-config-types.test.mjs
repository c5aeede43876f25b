// The settings' value types (src/config/types.ts): what each accepts from a flag, an env var or a
// config file, and what it refuses, with the words the refusal gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { InvalidValue, integer, seconds, boolean, oneOf, listOf, text, workerCount, byteSize, bindAddress, envPairs } =
  await importSource('src/config/types.ts');

/** The `allowed` words of the refusal of `raw`, or a failure if it was accepted. */
function refusal(type, raw) {
  try {
    const value = type.parse(raw);
    assert.unreachable(`${JSON.stringify(raw)} was accepted as ${JSON.stringify(value)}`);
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err;
    return err.allowed;
  }
}

test('integer: numbers and trimmed numeric strings within bounds; fractions, blanks and out-of-range refused', () => {
  const t = integer(1, 10);
  assert.is(t.parse(1), 1);
  assert.is(t.parse(' 10 '), 10);
  assert.is(t.parse('7'), 7);
  for (const bad of [0, 11, '2.5', '', '  ', 'ten', null, undefined, true]) {
    assert.is(refusal(t, bad), 'an integer from 1 to 10', JSON.stringify(bad));
  }
  assert.is(refusal(integer(0), -1), 'an integer >= 0');
  assert.is(integer(0).parse('0'), 0);
});

test('seconds: fractions and an "s" suffix; negatives and words refused', () => {
  const t = seconds(0);
  assert.is(t.parse('0.5'), 0.5);
  assert.is(t.parse('30s'), 30);
  assert.is(t.parse('2S'), 2);
  assert.is(t.parse(0), 0);
  for (const bad of ['-1', 'soon', '', '1m', Infinity, NaN]) assert.is(refusal(t, bad), 'a number of seconds >= 0', String(bad));
  assert.is(refusal(seconds(1), '0.5'), 'a number of seconds >= 1');
});

test('boolean: the usual spellings, case-insensitive; anything else refused', () => {
  for (const yes of [true, '1', 'true', 'YES', 'On']) assert.is(boolean.parse(yes), true, String(yes));
  for (const no of [false, '0', 'false', 'No', 'off', '']) assert.is(boolean.parse(no), false, String(no));
  for (const bad of ['maybe', '2', 'y']) assert.is(refusal(boolean, bad), 'true or false');
});

test('oneOf and listOf: case-folded choices; a comma list, a repeated flag or a JSON array; an empty list refused', () => {
  const proto = oneOf(['h1', 'h2']);
  assert.is(proto.parse(' H2 '), 'h2');
  assert.is(refusal(proto, 'h3'), 'one of h1, h2');
  const list = listOf(proto);
  assert.equal(list.parse('h1, h2'), ['h1', 'h2']);
  assert.equal(list.parse(['h2']), ['h2']);
  assert.equal(list.parse('h1,,'), ['h1']);
  assert.is(refusal(list, ' , '), 'one or more of: one of h1, h2');
  assert.is(refusal(list, 'h1,h3'), 'one of h1, h2');
  assert.is(list.format(['h1', 'h2']), 'h1,h2');
  assert.is(refusal(text(), {}), 'a string');
});

test('workerCount: "auto" or 1..1024', () => {
  assert.is(workerCount.parse('auto'), 'auto');
  assert.is(workerCount.parse(' AUTO '), 'auto');
  assert.is(workerCount.parse('4'), 4);
  assert.is(workerCount.parse(1024), 1024);
  for (const bad of [0, '1025', '-2', '1.5', 'many', '']) assert.is(refusal(workerCount, bad), 'a positive integer (1-1024) or "auto"', String(bad));
});

test('byteSize: decimal and binary units, plain bytes, 0 = off; unknown units and negatives refused', () => {
  assert.is(byteSize.parse('512MB'), 512e6);
  assert.is(byteSize.parse('1GiB'), 1024 ** 3);
  assert.is(byteSize.parse('300m'), 300e6);
  assert.is(byteSize.parse(' 2 kib '), 2048);
  assert.is(byteSize.parse('1.5k'), 1500);
  assert.is(byteSize.parse('4096'), 4096);
  assert.is(byteSize.parse(0), 0);
  for (const bad of ['12 parsecs', '-1', 'MB', '1e3', '', -5]) {
    assert.is(refusal(byteSize, bad), 'a size such as 512MB, 1GiB or a number of bytes (0 = off)', String(bad));
  }
});

test('bindAddress: HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH, fd://N; no port, a port over 65535 or a bare IPv6 refused', () => {
  for (const ok of ['127.0.0.1:8000', 'localhost:0', '[::1]:443', ':8080', 'unix:/run/app.sock', 'fd://3', '0.0.0.0:65535']) {
    assert.is(bindAddress.parse(` ${ok} `), ok);
  }
  for (const bad of ['127.0.0.1', '127.0.0.1:65536', '::1:80', '[::1]', 'unix:', 'fd://x', 'host:port', 'a:1:2']) {
    assert.is(refusal(bindAddress, bad), 'HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N', bad);
  }
});

test('envPairs: KEY=VALUE from a list, an object or newline-separated text; a bad key or no "=" refused', () => {
  assert.equal({ ...envPairs.parse(['A=1', 'B=x=y,z']) }, { A: '1', B: 'x=y,z' });
  assert.equal({ ...envPairs.parse('A=1\n\nB_2=two words\n') }, { A: '1', B_2: 'two words' });
  assert.equal({ ...envPairs.parse({ PORT: 80 }) }, { PORT: '80' });
  for (const bad of [['NOEQUALS'], ['1BAD=x'], ['A-B=1']]) assert.match(refusal(envPairs, bad), /^KEY=VALUE/);
});

test.run();
