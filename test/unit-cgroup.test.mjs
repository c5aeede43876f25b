// cgroup file parsing (src/platform/cgroup.ts), as the kernel writes the files: CPU quota (v2
// cpu.max, v1 cfs), cpusets, memory limits; and reading a cgroup directory given by
// NARWHAL_CGROUP_ROOT. (test/cgroup.test.mjs covers the same through --print-config.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importSource } from './helpers/unit.mjs';

const { parseCpuMax, parseCfs, parseCpuset, parseMemory, readCgroup } = await importSource('src/platform/cgroup.ts');

test('parseCpuMax: "QUOTA PERIOD"; "max" or a malformed file is no limit; a missing period is the kernel default', () => {
  assert.equal(parseCpuMax('150000 100000'), { quota: 150000, period: 100000 });
  assert.equal(parseCpuMax('50000'), { quota: 50000, period: 100000 });
  assert.equal(parseCpuMax('200000   50000'), { quota: 200000, period: 50000 });
  for (const none of ['max 100000', 'max', '', null, '0 100000', '-1 100000', '1.5 100000', '100000 0', '100000 abc']) {
    assert.is(parseCpuMax(none), null, JSON.stringify(none));
  }
});

test('parseCfs: quota and period; -1 (none), zero or junk is no limit', () => {
  assert.equal(parseCfs('50000', '100000'), { quota: 50000, period: 100000 });
  assert.equal(parseCfs(' 250000\n', '100000\n'), { quota: 250000, period: 100000 });
  for (const [q, p] of [['-1', '100000'], ['50000', null], [null, '100000'], ['0', '100000'], ['50000', '0'], ['lots', '100000']]) {
    assert.is(parseCfs(q, p), null, `${q} ${p}`);
  }
});

test('parseCpuset: ranges and single CPUs counted; empty, reversed or malformed lists are null', () => {
  assert.is(parseCpuset('0-3'), 4);
  assert.is(parseCpuset('0-3,6,8-9'), 7);
  assert.is(parseCpuset('5'), 1);
  assert.is(parseCpuset(' 0 - 1'), null);
  assert.is(parseCpuset('0-1, 4'), 3);
  for (const bad of ['', null, '3-1', '3-1,0-5', '0-', 'a', '0,,1', '0;1']) assert.is(parseCpuset(bad), null, JSON.stringify(bad));
});

test('parseMemory: bytes; "max", v1\'s huge "unlimited" and junk are no limit', () => {
  assert.is(parseMemory('536870912'), 536870912);
  assert.is(parseMemory('536870912\n'), 536870912);
  for (const none of ['max', '9223372036854771712', '0', '', null, '512M', '-1']) assert.is(parseMemory(none), null, JSON.stringify(none));
});

test('readCgroup over a v2 directory: the files read and named; missing files are no limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-cgroup-'));
  try {
    writeFileSync(join(dir, 'cpu.max'), '250000 100000\n');
    writeFileSync(join(dir, 'cpuset.cpus.effective'), '0-1,4\n');
    writeFileSync(join(dir, 'memory.max'), 'max\n');
    const facts = readCgroup({ NARWHAL_CGROUP_ROOT: dir });
    assert.is(facts.version, 2);
    assert.is(facts.root, dir);
    assert.equal(facts.cpu, { quota: 250000, period: 100000, file: `cgroup v2 ${join(dir, 'cpu.max')}` });
    assert.equal(facts.cpuset, { count: 3, list: '0-1,4', file: `cgroup v2 ${join(dir, 'cpuset.cpus.effective')}` });
    assert.is(facts.memory, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readCgroup over a v1 layout: cfs quota, cpuset.cpus, memory.limit_in_bytes in their controller directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-cgroup-'));
  try {
    for (const c of ['cpu', 'cpuset', 'memory']) mkdirSync(join(dir, c));
    writeFileSync(join(dir, 'cpu/cpu.cfs_quota_us'), '50000\n');
    writeFileSync(join(dir, 'cpu/cpu.cfs_period_us'), '100000\n');
    writeFileSync(join(dir, 'cpuset/cpuset.cpus'), '2\n');
    writeFileSync(join(dir, 'memory/memory.limit_in_bytes'), '1073741824\n');
    const facts = readCgroup({ NARWHAL_CGROUP_ROOT: dir });
    assert.is(facts.version, 1);
    assert.equal([facts.cpu.quota, facts.cpu.period], [50000, 100000]);
    assert.is(facts.cpu.file, `cgroup v1 ${join(dir, 'cpu/cpu.cfs_quota_us')}`);
    assert.is(facts.cpuset.count, 1);
    assert.equal(facts.memory, { bytes: 1073741824, file: `cgroup v1 ${join(dir, 'memory/memory.limit_in_bytes')}` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
