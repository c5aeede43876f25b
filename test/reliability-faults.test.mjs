// Reliability suite, short mode: what each kind of app fault leads to (docs/reliability.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { killAll } from './helpers/server.mjs';
import { report } from './reliability/common.mjs';
import { appFaults } from './reliability/faults.mjs';

test.after(killAll);

let results;
test.before(async () => { results = await appFaults(); });

for (const [i, what] of ['unhandled rejection: logged, worker kept', 'write after end: logged with the request, worker kept',
  'never-answering handler: freed when the client leaves, cut at --graceful-timeout on a drain',
  'asynchronous throw: logged, worker replaced, only its in-flight requests fail'].entries()) {
  test(`${what}; no socket leaked`, () => {
    const r = results[i];
    report(r.name, r.figures);
    assert.equal(r.violations, [], r.violations.join('\n'));
  });
}

test.run();
