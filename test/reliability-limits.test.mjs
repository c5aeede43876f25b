// Reliability suite, short mode: idle connections by the thousand, a low file-descriptor limit,
// a seeded fuzzer from the conformance corpus, slow clients.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killAll } from './helpers/server.mjs';
import { PROFILES, report } from './reliability/common.mjs';
import { fuzz, idleConnections, lowFileLimit, slowClients } from './reliability/limits.mjs';

test.after(killAll);
const profile = PROFILES.short;
const check = (r) => { report(r.name, r.figures); assert.equal(r.violations, [], r.violations.join('\n')); };

test('5 000 idle keep-alive connections held open while new requests are served', async () => {
  check(await idleConnections(profile));
});

test('ulimit -n 200: new connections wait or fail, no worker crashes, service recovers when they close', async () => {
  check(await lowFileLimit(profile));
});

test('10 000 fuzzed requests: no worker crash, no 5xx, every connection answered or closed in time', async () => {
  check(await fuzz(profile));
});

test('1 000 clients dribbling headers: each closed at the header timeout, normal requests answered', async () => {
  check(await slowClients(profile));
});

test.run();
