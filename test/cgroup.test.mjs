// cgroup v1/v2 parsing, as a user sees it: NARWHAL_CGROUP_ROOT + --print-config.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runnable } from './helpers/needs.mjs';
import { CLI, cgroupV1, cgroupV2, cleanEnv, cleanup, printConfig, tree } from './helpers/container.mjs';

// The CPUs this process may run on (its affinity mask), what narwhal counts without a limit.
const CPUS = (() => {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1];
  return list.split(',').reduce((n, part) => { const [a, b = a] = part.split('-').map(Number); return n + b - a + 1; }, 0);
})();
const GiB = 1024 ** 3;

function workers(env, args = []) {
  const out = printConfig(args, env);
  const count = Number(/^workers = (\d+)$/m.exec(out)?.[1]);
  const source = /^# workers = \d+: (.*)$/m.exec(out)?.[1];
  const heap = /^# worker heap: (.*)$/m.exec(out)?.[1];
  return { count, source, heap, out };
}
const at = (root) => ({ NARWHAL_CGROUP_ROOT: root });

test.after(cleanup);

test('v2 cpu.max: quota 0.5 -> 1 worker, 1.5 -> 2, unlimited -> the CPUs', () => {
  const half = workers(at(cgroupV2({ cpuMax: '50000 100000' })));
  assert.is(half.count, 1);
  assert.match(half.source, /CPU quota 50000\/100000 = 0\.5 CPUs from cgroup v2 .*cpu\.max/);
  const oneAndHalf = workers(at(cgroupV2({ cpuMax: '150000 100000' })));
  assert.is(oneAndHalf.count, Math.min(2, CPUS));
  assert.match(oneAndHalf.source, /1\.5 CPUs/);
  const unlimited = workers(at(cgroupV2({ cpuMax: 'max 100000' })));
  assert.is(unlimited.count, CPUS);
  assert.match(unlimited.source, /\d+ CPUs in the affinity mask \([\d,-]+\), no cgroup CPU limit/);
});

test('v1 cfs quota: 0.5 -> 1, 1.5 -> 2, -1 (unlimited) -> the CPUs', () => {
  assert.is(workers(at(cgroupV1({ quota: 50000 }))).count, 1);
  const oneAndHalf = workers(at(cgroupV1({ quota: 150000 })));
  assert.is(oneAndHalf.count, Math.min(2, CPUS));
  assert.match(oneAndHalf.source, /cgroup v1 .*cpu\.cfs_quota_us/);
  assert.is(workers(at(cgroupV1({ quota: -1 }))).count, CPUS);
  // Another period: 25000/50000 = 0.5.
  assert.is(workers(at(cgroupV1({ quota: 25000, period: 50000 }))).count, 1);
});

test('the quota is capped at the CPUs the process may use; the cpuset alone sizes the pool', () => {
  const big = workers(at(cgroupV2({ cpuMax: '6400000 100000' })));
  assert.is(big.count, CPUS);
  assert.match(big.source, /ceil = 64, capped at/);
  const capped = workers(at(cgroupV2({ cpuMax: '300000 100000', cpuset: '0' })));
  assert.is(capped.count, 1);
  assert.match(capped.source, /capped at 1 CPUs in cgroup v2 .*cpuset\.cpus\.effective/);
  const cpusetOnly = workers(at(cgroupV1({ cpuset: '0' })));
  assert.is(cpusetOnly.count, 1);
  assert.match(cpusetOnly.source, /cpuset 0 = 1 CPUs from cgroup v1 .*cpuset\.cpus, no CPU quota/);
});

test('the quota is capped at the affinity mask (taskset), not at os.availableParallelism()', () => {
  if (!runnable(import.meta.url, 'taskset', { programs: [['taskset', 'util-linux']] })) return;
  const r = spawnSync('taskset', ['-c', '0', process.execPath, CLI, '--print-config', 'app.js'], {
    env: { ...cleanEnv(), ...at(cgroupV2({ cpuMax: '300000 100000' })) }, encoding: 'utf8', timeout: 15000,
  });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^workers = 1$/m);
  assert.match(r.stdout, /^# workers = 1: CPU quota 300000\/100000 = 3 CPUs .* -> ceil = 3, capped at 1 CPUs in the affinity mask \(0\)$/m);
});

test('missing, empty or malformed files mean no limit, never a crash', () => {
  for (const root of [
    tree({}),
    '/nonexistent/narwhal-cgroup',
    tree({ 'cgroup.controllers': '', 'cpu.max': 'garbage\n', 'memory.max': 'lots\n', 'cpuset.cpus.effective': 'x-y\n' }),
    tree({ 'cpu/cpu.cfs_quota_us': '', 'cpu/cpu.cfs_period_us': '0', 'memory/memory.limit_in_bytes': '-5' }),
  ]) {
    const w = workers(at(root));
    assert.is(w.count, CPUS, root);
    assert.match(w.heap, /Node's default: no cgroup memory limit/);
  }
  // A directory where a file should be: unreadable, not a crash.
  const dirs = tree({ 'cpu.max/x': '', 'memory.max/y': '' });
  assert.is(workers(at(dirs)).count, CPUS);
});

test('an explicit --workers wins over the cgroup', () => {
  const w = workers(at(cgroupV2({ cpuMax: '50000 100000' })), ['-w', '3']);
  assert.is(w.count, 3);
  assert.is(w.source, 'set');
});

test('heap: 1 GiB and 2 workers -> a documented share each, well under 1 GiB', () => {
  const v2 = workers(at(cgroupV2({ cpuMax: '200000 100000', memoryMax: GiB })), ['-w', '2']);
  // 60% of (1024 - 64) MiB / 2 = 288 MiB
  assert.match(v2.heap, /^288 MiB each: 60% of \(memory limit 1024 MiB from cgroup v2 .*memory\.max - 64 MiB for the master\) \/ 2 workers$/);
  const v1 = workers(at(cgroupV1({ memory: GiB })), ['-w', '4']);
  assert.match(v1.heap, /^144 MiB each: .*cgroup v1 .*memory\.limit_in_bytes/);
  // v1's "unlimited" is a huge number, v2's is "max".
  assert.match(workers(at(cgroupV1({ memory: '9223372036854771712' }))).heap, /no cgroup memory limit/);
  assert.match(workers(at(cgroupV2({ memoryMax: 'max' }))).heap, /no cgroup memory limit/);
});

test('heap: a tight limit gets the 64 MiB minimum and says so', () => {
  const w = workers(at(cgroupV2({ memoryMax: 256 * 1024 ** 2 })), ['-w', '4']);
  assert.match(w.heap, /^64 MiB each: .*raised to the 64 MiB minimum/);
});

test('heap: --worker-heap-mb and --max-old-space-size in NODE_OPTIONS win', () => {
  const root = cgroupV2({ memoryMax: GiB });
  assert.match(workers(at(root), ['--worker-heap-mb', '200']).heap, /^200 MiB each: set by worker_heap_mb$/);
  assert.match(workers({ ...at(root), NARWHAL_WORKER_HEAP_MB: '150' }).heap, /^150 MiB each/);
  assert.match(workers({ ...at(root), NODE_OPTIONS: '--max-old-space-size=300' }).heap, /set by --max-old-space-size in NODE_OPTIONS/);
});

test('a real cgroup v1 quota, read through /proc/self/cgroup, the tightest level winning (root, v1 hosts only)', () => {
  const cpu = '/sys/fs/cgroup/cpu';
  if (!runnable(import.meta.url, 'real cgroup v1 quota', { root: true })) return;
  // Not a setup fault: a host with cgroup v2 only has no v1 hierarchy to test.
  if (!existsSync(`${cpu}/cpu.cfs_quota_us`)) return void console.log('\n  SKIP cgroup.test.mjs › real cgroup v1 quota: this host has no cgroup v1 cpu hierarchy');
  const parent = `${cpu}/narwhal-test-${process.pid}`;
  const child = `${parent}/inner`;
  try {
    mkdirSync(parent);
    writeFileSync(`${parent}/cpu.cfs_period_us`, '100000');
    writeFileSync(`${parent}/cpu.cfs_quota_us`, '50000');
    mkdirSync(child);
    // The process joins the inner cgroup (no quota of its own) before Node starts.
    const r = spawnSync('sh', ['-c', `echo $$ > ${child}/cgroup.procs && exec "$0" "$1" --print-config`, process.execPath, CLI],
      { env: cleanEnv(), encoding: 'utf8', timeout: 15000 });
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /^workers = 1$/m);
    assert.match(r.stdout, new RegExp(`^# workers = 1: CPU quota 50000/100000 = 0\\.5 CPUs from cgroup v1 ${parent}/cpu\\.cfs_quota_us`, 'm'));
  } finally {
    for (const dir of [child, parent]) try { rmdirSync(dir); } catch { /* not created */ }
  }
});

test.run();
