// -u/--user and -g/--group: workers run as another identity when the master starts as root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, killAll, request, runCli, startServer } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');
const ids = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { uid: Number(/^Uid:\s+(\d+)/m.exec(status)[1]), gid: Number(/^Gid:\s+(\d+)/m.exec(status)[1]) };
};

test('an unknown user or group is refused: one line, exit 2', async () => {
  const user = await runCli(['-u', 'no-such-user-here', APP]);
  assert.is(user.code, 2);
  assert.match(user.stderr, /^narwhal: error: invalid value for user: "no-such-user-here"; allowed: a user name in \/etc\/passwd or a numeric uid\n$/);
  const group = await runCli(['-g', 'no-such-group-here', APP]);
  assert.is(group.code, 2);
  assert.match(group.stderr, /invalid value for group: "no-such-group-here"/);
});

test('-u nobody -g nogroup: workers run as that user and group, the master as it started', async () => {
  if (process.getuid() !== 0) {
    const r = await runCli(['-u', 'nobody', APP]);
    assert.is(r.code, 2);
    return void assert.match(r.stderr, /needs a master started as root/);
  }
  const s = await startServer(['-w', '2', '-u', 'nobody', '-g', 'nogroup', APP], { workers: 2 });
  assert.equal(ids(s.pid), { uid: 0, gid: 0 });
  for (const pid of s.workers()) assert.equal(ids(pid), { uid: 65534, gid: 65534 });
  assert.is((await request(s.port)).status, 200);
  assert.is((await s.stop()).code, 0);
});

test.run();
