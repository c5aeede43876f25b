// The collectors narwhal sends to (src/log/collectors.ts), each received by a socket the test
// binds on 127.0.0.1: StatsD (--statsd-host, --statsd-prefix, --dogstatsd-tags) and syslog
// (--log-syslog over UDP, a unix stream socket, and a unix datagram socket through logger(1)).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, killAll, request, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');

/** A UDP socket on 127.0.0.1 that keeps what it receives, a line an entry. */
async function udpReceiver() {
  const socket = dgram.createSocket('udp4');
  const lines = [];
  socket.on('message', (m) => lines.push(...String(m).split('\n')));
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, lines, close: () => socket.close() };
}

/** The sum of a StatsD counter over every line received. */
const counted = (lines, name) => lines.map((l) => new RegExp(`^${name.replace(/\./g, '\\.')}:(\\d+)\\|c(\\||$)`).exec(l)).filter(Boolean).reduce((n, m) => n + Number(m[1]), 0);

test('StatsD: per-request counters add up, timings, the prefix, the tags; the master\'s gauge', async () => {
  const statsd = await udpReceiver();
  const s = await startServer(['-w', '1', '--statsd-host', `127.0.0.1:${statsd.port}`, '--statsd-prefix', 'shop.web',
    '--dogstatsd-tags', 'env:test,team:web', APP], { workers: 1 });
  const N = 7;
  for (let i = 0; i < N; i++) await request(s.port, `/n${i}`);
  await request(s.port, '/throw');
  await waitFor(() => counted(statsd.lines, 'shop.web.requests') === N + 1, 5000, `${N + 1} requests counted (got:\n${statsd.lines.join('\n')})`);
  const lines = statsd.lines.filter(Boolean);
  assert.is(counted(lines, 'shop.web.request.status.200'), N);
  assert.is(counted(lines, 'shop.web.request.status.500'), 1);
  assert.is(lines.filter((l) => /^shop\.web\.request\.duration:\d+(\.\d+)?\|ms\|#/.test(l)).length, N + 1, 'a timing per request');
  // The worker's error line (the listener threw) is counted, as Gunicorn's gunicorn.log.error.
  await waitFor(() => counted(statsd.lines, 'shop.web.log.error') >= 1, 3000, 'log.error counted');
  await waitFor(() => statsd.lines.some((l) => /^shop\.web\.workers:1\|g\|#/.test(l)), 3000, 'the workers gauge from the master');
  for (const l of statsd.lines.filter(Boolean)) assert.ok(l.startsWith('shop.web.') && l.endsWith('|#env:test,team:web'), l);
  await s.stop();
  statsd.close();
});

test('StatsD with --threads: every event loop sends its own, the counters still add up', async () => {
  const statsd = await udpReceiver();
  const s = await startServer(['-w', '1', '--threads', '2', '--statsd-host', `127.0.0.1:${statsd.port}`, APP], { workers: 1 });
  const N = 20;
  await Promise.all(Array.from({ length: N }, (_, i) => request(s.port, `/t${i}`)));
  await waitFor(() => counted(statsd.lines, 'requests') === N, 5000, `${N} requests counted (got:\n${statsd.lines.join('\n')})`);
  assert.is(counted(statsd.lines, 'request.status.200'), N);
  await s.stop();
  statsd.close();
});

test('StatsD: a receiver that is not there costs nothing; requests are served', async () => {
  const gone = await udpReceiver();
  gone.close();
  const s = await startServer(['-w', '1', '--statsd-host', `127.0.0.1:${gone.port}`, APP], { workers: 1 });
  for (let i = 0; i < 20; i++) assert.is((await request(s.port, '/')).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await request(s.port, '/')).status, 200, 'still serving after the datagrams were refused');
  assert.not.match(s.log, /ECONNREFUSED|Error/);
  await s.stop();
});

test('syslog over UDP: Gunicorn\'s default facility (user), PRI and tag; then local3 with a prefix', async () => {
  const syslog = await udpReceiver();
  const s = await startServer(['-w', '1', '--log-syslog', '--log-syslog-to', `udp://127.0.0.1:${syslog.port}`, APP], { workers: 1 });
  // user.info = 1*8+6 = 14; the master's pid in the tag; the host name after the time.
  const line = (re) => syslog.lines.find((l) => re.test(l));
  await waitFor(() => line(/Booting worker with pid: \d+$/), 5000, `Booting worker (got:\n${syslog.lines.join('\n')})`);
  assert.match(line(/Booting worker/), new RegExp(`^<14>[A-Z][a-z]{2} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\S+ narwhal\\[${s.pid}\\]: Booting worker with pid: \\d+$`));
  assert.match(line(/Listening at/), new RegExp(`^<14>.* narwhal\\[${s.pid}\\]: Listening at: http://127\\.0\\.0\\.1:${s.port} \\(${s.pid}\\)$`));
  // The master's debug line is severity 7 (15); a worker's error line (its app threw) is sent by
  // the worker, with its own pid, severity 3 (11).
  await waitFor(() => line(/Worker ready/), 5000, 'Worker ready');
  assert.match(line(/Worker ready/), /^<15>/);
  const worker = /pid=(\d+)/.exec((await request(s.port, '/')).body)[1];
  await request(s.port, '/throw');
  await waitFor(() => line(new RegExp(`^<11>.* narwhal\\[${worker}\\]: `)), 5000, `the worker's error line (got:\n${syslog.lines.join('\n')})`);
  assert.match(s.log, /Booting worker/, 'the error log is still written');
  await s.stop();
  syslog.close();

  const local = await udpReceiver();
  const t = await startServer(['-w', '1', '--log-syslog', '--log-syslog-to', `udp://127.0.0.1:${local.port}`,
    '--log-syslog-facility', 'local3', '--log-syslog-prefix', 'shop-web', APP], { workers: 1 });
  await waitFor(() => local.lines.some((l) => /Booting worker/.test(l)), 5000, 'Booting worker');
  // local3.info = 19*8+6 = 158
  assert.match(local.lines.find((l) => /Booting worker/.test(l)), new RegExp(`^<158>.* shop-web\\[${t.pid}\\]: Booting worker`));
  await t.stop();
  local.close();
});

test('syslog over a unix stream socket: one message a line, no host name', async () => {
  const path = join(tempApp({}), 'syslog.sock');
  let got = '';
  const server = net.createServer((c) => c.on('data', (d) => { got += d; }));
  await new Promise((resolve) => server.listen(path, resolve));
  const s = await startServer(['-w', '1', '--log-syslog', '--log-syslog-to', `unix://${path}`, APP], { workers: 1 });
  await waitFor(() => /Listening at/.test(got), 5000, `Listening at (got:\n${got})`);
  assert.match(got, new RegExp(`(^|\\n)<14>[A-Z][a-z]{2} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} narwhal\\[${s.pid}\\]: Listening at: http://127\\.0\\.0\\.1:${s.port}`));
  await s.stop();
  server.close();
});

// A unix datagram socket (rsyslog's and journald's /dev/log) needs a receiver Node cannot bind:
// python3 binds it, and narwhal writes to it through logger(1).
const canDatagram = spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0
  && spawnSync('logger', ['--help'], { encoding: 'utf8' }).stdout?.includes('--prio-prefix');
test('syslog over a unix datagram socket: through logger(1), with narwhal\'s PRI, tag and pid', async () => {
  if (!canDatagram) return console.log('  (skipped: needs python3 and util-linux logger)');
  const path = join(tempApp({}), 'dev-log');
  const receiver = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('bound', flush=True)
s.settimeout(20)
while True:
    print(s.recv(65536).decode(), flush=True)
`, path], { stdio: ['ignore', 'pipe', 'ignore'] });
  let got = '';
  receiver.stdout.on('data', (d) => { got += d; });
  try {
    await waitFor(() => got.includes('bound'), 5000, 'the receiver bound');
    const s = await startServer(['-w', '1', '--log-syslog', '--log-syslog-to', `unix://${path}`, '--log-syslog-facility', 'daemon', APP], { workers: 1 });
    await waitFor(() => /Listening at/.test(got), 5000, `Listening at (got:\n${got})`);
    // daemon.info = 3*8+6 = 30
    assert.match(got, new RegExp(`<30>[A-Z][a-z]{2} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} narwhal\\[${s.pid}\\]: Listening at: http://127\\.0\\.0\\.1:${s.port}`));
    await s.stop();
  } finally {
    receiver.kill('SIGKILL');
  }
});

test.run();
