// The master's phases (src/master/lifecycle.ts): which ones still supervise, which ones serve on
// until the drain, and the three phases observers show. The transitions themselves are the
// arbiter's, run with processes in lifecycle, admin, hooks and systemd tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { observedPhase, stopping, shuttingDown } = await importSource('src/master/lifecycle.ts');

const PHASES = ['booting', 'starting', 'running', 'reloading', 'terminating', 'stopping', 'stopped'];

test('observers see booting, running or stopping; TERM reads as stopping', () => {
  assert.equal(PHASES.map(observedPhase), ['booting', 'running', 'running', 'running', 'stopping', 'stopping', 'stopping']);
});

test('the pool supervises until stopping; workers serve on from TERM', () => {
  assert.equal(PHASES.filter(stopping), ['stopping', 'stopped']);
  assert.equal(PHASES.filter(shuttingDown), ['terminating', 'stopping', 'stopped']);
});

test.run();
