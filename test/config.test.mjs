// Settings: flags, environment, config files, precedence, and refusals (one line, exit 2).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, tempApp, FIXTURES, killAll, request, startServer } from './helpers/server.mjs';
import { join } from 'node:path';

const printConfig = async (args, opts) => {
  const r = await runCli(['--print-config', ...args], opts);
  assert.is(r.code, 0, r.stderr);
  return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes(' = ') && !l.startsWith('#')).map((l) => l.split(' = ')));
};

test.after(killAll);

test('--version prints the narwhal and Node versions, then the platform, build commit and date', async () => {
  const r = await runCli(['--version']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^narwhal \d+\.\d+\.\d+ \(Node\.js v\d+\.\d+\.\d+\)\n[a-z]+-[a-z0-9]+, commit ([0-9a-f]{12}(-dirty)?|unknown), (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|unknown)\n$/);
});

test('--help lists every flag with its help line', async () => {
  const r = await runCli(['--help']);
  assert.is(r.code, 0);
  for (const flag of ['--bind', '--workers', '--timeout', '--graceful-timeout', '--keep-alive', '--max-requests',
    '--max-requests-jitter', '--backlog', '--config', '--pid', '--check-config', '--print-config']) {
    assert.ok(r.stdout.includes(flag), `help has ${flag}`);
  }
});

test('an unknown flag is one line and exit 2', async () => {
  const r = await runCli(['--wrokers', '2', 'app.js']);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /--wrokers/);
});

test('a bad value names the setting, the value and what is allowed; exit 2', async () => {
  for (const [args, re, env = {}] of [
    [['-w', 'many'], /workers.*"many".*allowed: a positive integer/],
    [['--timeout=-3'], /timeout \(--timeout\): "-3"; allowed: a number of seconds/],
    [['-b', 'localhost'], /bind.*"localhost".*allowed: HOST:PORT/],
    [['--max-requests', '1.5'], /max_requests.*1\.5.*allowed: an integer/],
    // The collectors (StatsD, syslog): one bad value each.
    [['--statsd-host', 'nope'], /statsd_host \(--statsd-host\): "nope"; allowed: HOST:PORT/],
    [['--statsd-prefix', 'my app'], /statsd_prefix.*"my app"; allowed: letters, digits/],
    [['--dogstatsd-tags', 'env:prod|x'], /dogstatsd_tags.*"env:prod\|x"; allowed: comma-separated tags/],
    [['--log-syslog-to', 'http://logs:514'], /log_syslog_to.*"http:\/\/logs:514"; allowed: udp:\/\/HOST:PORT, tcp:\/\/HOST:PORT or unix:\/\/PATH/],
    [['--log-syslog-facility', 'local9'], /log_syslog_facility.*"local9"; allowed: one of kern, user,/],
    [['--log-syslog-prefix', 'a:b'], /log_syslog_prefix.*"a:b"; allowed: 1 to 32 letters/],
    [[], /log_syslog \(NARWHAL_LOG_SYSLOG\): "maybe"; allowed: true or false/, { NARWHAL_LOG_SYSLOG: 'maybe' }],
  ]) {
    const r = await runCli([...args, join(FIXTURES, 'pid.js')], { env });
    assert.is(r.code, 2, `${args}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('--print-config prints name = value lines, workers resolved', async () => {
  const r = await runCli(['--print-config', '-w', '2']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^workers = 2$/m);
  assert.match(r.stdout, /^bind = 127\.0\.0\.1:8000$/m);
  assert.match(r.stdout, /^timeout = 30$/m);
  assert.match(r.stdout, /^graceful_timeout = 30$/m);
  assert.match(r.stdout, /^keep_alive = 5$/m);
  assert.match(r.stdout, /^backlog = 2048$/m);
  const auto = await printConfig([]);
  assert.ok(Number(auto.workers) >= 1, 'auto resolves to a number');
});

test('precedence: defaults < config file < environment < command line', async () => {
  const dir = tempApp({ 'narwhal.config.json': JSON.stringify({ workers: 3, timeout: 11, keep_alive: 7, graceful_timeout: 12 }) });
  const fileOnly = await printConfig([], { cwd: dir });
  assert.is(fileOnly.workers, '3');
  assert.is(fileOnly.keep_alive, '7');
  const withEnv = await printConfig([], { cwd: dir, env: { NARWHAL_WORKERS: '4', NARWHAL_TIMEOUT: '13' } });
  assert.is(withEnv.workers, '4');
  assert.is(withEnv.timeout, '13');
  assert.is(withEnv.keep_alive, '7');
  const withCli = await printConfig(['-w', '5'], { cwd: dir, env: { NARWHAL_WORKERS: '4' } });
  assert.is(withCli.workers, '5');
  assert.is(withCli.graceful_timeout, '12');
});

test('config files: -c FILE in js, mjs, camelCase keys; unknown key refused', async () => {
  const dir = tempApp({
    'a.cjs': 'module.exports = { maxRequests: 100, bind: ["127.0.0.1:9001", "unix:/tmp/x.sock"] };',
    'b.mjs': 'export default async () => ({ "max-requests-jitter": 9 });',
    'bad.json': JSON.stringify({ wokers: 2 }),
    'badvalue.json': JSON.stringify({ workers: 'lots' }),
  });
  const a = await printConfig(['-c', 'a.cjs'], { cwd: dir });
  assert.is(a.max_requests, '100');
  assert.is(a.bind, '127.0.0.1:9001,unix:/tmp/x.sock');
  const b = await printConfig(['-c', join(dir, 'b.mjs')]);
  assert.is(b.max_requests_jitter, '9');
  const bad = await runCli(['--print-config', '-c', 'bad.json'], { cwd: dir });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /unknown setting "wokers"/);
  const badValue = await runCli(['--print-config', '-c', 'badvalue.json'], { cwd: dir });
  assert.is(badValue.code, 2);
  assert.match(badValue.stderr, /invalid value for workers \(in .*badvalue\.json\): "lots"/);
  const missing = await runCli(['--print-config', '-c', 'nope.json'], { cwd: dir });
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /config file not found/);
});

test('PORT and WEB_CONCURRENCY are honoured as Gunicorn does', async () => {
  const c = await printConfig([], { env: { PORT: '5005', WEB_CONCURRENCY: '3' } });
  assert.is(c.bind, '0.0.0.0:5005');
  assert.is(c.workers, '3');
  const flag = await printConfig(['-b', '127.0.0.1:1', '-w', '1'], { env: { PORT: '5005', WEB_CONCURRENCY: '3' } });
  assert.is(flag.bind, '127.0.0.1:1');
  assert.is(flag.workers, '1');
});

test('bind accepts HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N, repeated', async () => {
  const c = await printConfig(['-b', '0.0.0.0:80', '-b', '[::1]:8080', '-b', 'unix:/run/a.sock', '-b', 'fd://3']);
  assert.is(c.bind, '0.0.0.0:80,[::1]:8080,unix:/run/a.sock,fd://3');
});

test('a bind host name is resolved once, at boot (localhost serves on 127.0.0.1)', async () => {
  const s = await startServer(['-w', '1', '-b', 'localhost:0', join(FIXTURES, 'pid.js')], { workers: 1 });
  assert.match((await request(s.port)).body, new RegExp(`pid=${s.workers()[0]}`));
  await s.stop();
});

test('--check-config loads the app: 0 when it is fine, 1 with the reason when not', async () => {
  const ok = await runCli(['--check-config', join(FIXTURES, 'pid.js')]);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Config OK/);
  const broken = await runCli(['--check-config', join(FIXTURES, 'boot-error.js')]);
  assert.is(broken.code, 1);
  assert.match(broken.stderr, /database unreachable/);
  const notApp = await runCli(['--check-config', join(FIXTURES, 'not-an-app.js')]);
  assert.is(notApp.code, 1);
  assert.match(notApp.stderr, /not-an-app\.js: found module\.exports \(or the default export\): an object with keys \[port, name\], and the app has not called listen\(\)/);
});

test('reuseport is refused where Node has no listen({ reusePort }) (before Node 22.12)', async () => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  const r = await runCli(['--distribution', 'reuseport', '-b', '127.0.0.1:0', join(FIXTURES, 'pid.js')], { timeoutMs: 3000 });
  if (major > 22 || (major === 22 && minor >= 12)) return void assert.is.not(r.code, 2);
  assert.is(r.code, 2);
  assert.match(r.stderr, /distribution: "reuseport" needs Node\.js >= 22\.12/);
});

test('no APP is a usage error', async () => {
  const r = await runCli([]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /no APP given/);
});

test.run();
