// Reliability suite, short mode (the long mode is `npm run soak`): workers killed or stopped
// from outside under keep-alive load, and signal storms. See docs/reliability.md.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killAll } from './helpers/server.mjs';
import { PROFILES, report } from './reliability/common.mjs';
import { chaos, storm } from './reliability/chaos.mjs';

test.after(killAll);
const profile = PROFILES.short;
const check = (r) => { report(r.name, r.figures); assert.equal(r.violations, [], r.violations.join('\n')); };

test('SIGKILL to a random worker every second: the pool recovers each time, failures at most the requests in flight on it', async () => {
  check(await chaos('SIGKILL', profile));
});

test('SIGTERM to a random worker every second: 0 failed, logged at INFO, successor at once', async () => {
  check(await chaos('SIGTERM', profile));
});

test('5 HUPs in 2 s under load: 0 failed, pool at its target, no process leaked', async () => {
  check(await storm('hup', profile));
});

test('10 TTIN+TTOU pairs under load: 0 failed, pool at its target, no process leaked', async () => {
  check(await storm('ttin', profile));
});

test.run();
