// Reliability suite, short mode: narwhal behind real reverse proxies from Debian's packages
// (nginx-light, haproxy), run as children with their configs in temp dirs, on 127.0.0.1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killAll } from './helpers/server.mjs';
import { missing } from './helpers/proxies.mjs';
import { PROFILES, report } from './reliability/common.mjs';
import { behindNginx, rollout } from './reliability/proxies.mjs';

test.after(killAll);
const profile = PROFILES.short;
const check = (r) => { report(r.name, r.figures); assert.equal(r.violations, [], r.violations.join('\n')); };

for (const transport of ['tcp', 'unix']) {
  test(`nginx keep-alive upstream over ${transport}: HUP, max-requests, TTOU and a worker TERM under load, 0 5xx`, async () => {
    assert.is(missing('nginx'), null);
    check(await behindNginx(transport, profile));
  });
}

test('HAProxy checking /readyz, rolling update with --shutdown-delay longer than the check interval: 0 failed', async () => {
  assert.is(missing('haproxy'), null);
  check(await rollout({ shutdownDelay: 2 }, profile));
  // The same rollout without the delay, reported (HAProxy sends to the old instance until its
  // next check fails): what the delay is for.
  const bare = await rollout({ shutdownDelay: 0 }, profile);
  report(bare.name, bare.figures);
});

test.run();
