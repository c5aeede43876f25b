// The access log (Gunicorn's format atoms, or JSON) and the error log file, both reopened on
// USR1 so logrotate can move them away.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, killAll, request, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');
const lines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

test('access log in Gunicorn\'s default format', async () => {
  const dir = tempApp({});
  const log = join(dir, 'access.log');
  const s = await startServer(['-w', '1', '--access-logfile', log, APP], { workers: 1 });
  await request(s.port, '/x?y=1', { headers: { 'user-agent': 'narwhal-test', referer: 'http://ref/' } });
  await request(s.port, '/slow?ms=10', { headers: { authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}` } });
  await waitFor(() => lines(log).length === 2, 5000, 'two access log lines');
  const [first, second] = lines(log);
  assert.match(first, /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/x\?y=1 HTTP\/1\.1" 200 \d+ "http:\/\/ref\/" "narwhal-test"$/);
  assert.match(second, /^127\.0\.0\.1 - ann \[.*\] "GET \/slow\?ms=10 HTTP\/1\.1" 200 .* "-" "-"$/);
  await s.stop();
});

test('custom atoms and json', async () => {
  const dir = tempApp({});
  const custom = join(dir, 'custom.log');
  const s = await startServer(['-w', '1', '--access-logfile', custom, '--access-logformat', '%(m)s %(U)s %(q)s %(s)s %(b)s %(D)sus %({x-test}i)s %({content-type}o)s', join(FIXTURES, 'hono-app.mjs')], { workers: 1 });
  await request(s.port, '/json?a=b', { headers: { 'x-test': 'hi' } });
  await waitFor(() => lines(custom).length === 1, 5000, 'a line');
  assert.match(lines(custom)[0], /^GET \/json a=b 202 11 \d+us hi application\/json$/);
  await s.stop();

  const json = join(dir, 'json.log');
  const j = await startServer(['-w', '1', '--access-logfile', json, '--access-logformat', 'json', APP], { workers: 1 });
  await request(j.port, '/j');
  await waitFor(() => lines(json).length === 1, 5000, 'a json line');
  const entry = JSON.parse(lines(json)[0]);
  assert.is(entry.method, 'GET');
  assert.is(entry.path, '/j');
  assert.is(entry.query, null);
  assert.is(entry.status, 200);
  assert.ok(entry.duration_s >= 0);
  await j.stop();
});

test('--access-logfile - writes to stdout', async () => {
  const s = await startServer(['-w', '1', '--access-logfile', '-', APP], { workers: 1 });
  await request(s.port, '/to-stdout');
  await waitFor(() => s.stdout.includes('"GET /to-stdout HTTP/1.1" 200'), 5000, 'stdout line');
  await s.stop();
});

test('--log-format json: access lines are JSON too, on the same stream, with the fields a pipeline indexes', async () => {
  const s = await startServer(['-w', '1', '--log-format', 'json', '--access-logfile', '-', APP], { workers: 1 });
  await request(s.port, '/orders?page=2', { headers: { 'user-agent': 'narwhal-test', referer: 'http://ref/', 'x-request-id': 'req-42' } });
  await request(s.port, '/plain');
  await waitFor(() => s.stdout.split('\n').filter(Boolean).length >= 2, 5000, 'two access lines on stdout');
  const lines = s.stdout.split('\n').filter(Boolean);
  const entries = lines.map((l) => JSON.parse(l)); // every line on stdout parses
  for (const e of entries) {
    for (const field of ['time', 'status', 'duration_s', 'bytes', 'method', 'path', 'query', 'remote', 'user_agent', 'referer', 'protocol', 'request_id']) {
      assert.ok(field in e, `${field} in ${JSON.stringify(e)}`);
    }
    assert.match(e.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  }
  const [first, second] = entries;
  assert.equal({ ...first, time: 0, duration_s: 0, pid: 0, bytes: 0 }, {
    time: 0, remote: '127.0.0.1', method: 'GET', path: '/orders', query: 'page=2', protocol: 'HTTP/1.1', status: 200, bytes: 0,
    duration_s: 0, referer: 'http://ref/', user_agent: 'narwhal-test', request_id: 'req-42', pid: 0,
  });
  assert.ok(first.duration_s >= 0 && first.bytes > 0);
  assert.is(second.request_id, null, 'no X-Request-Id: null');
  assert.is(second.query, null);
  // The error log is JSON too (stderr): one format for every line narwhal writes.
  for (const l of s.log.split('\n').filter(Boolean)) JSON.parse(l);
  await s.stop();
});

test('--log-format json with an explicit --access-logformat: that format wins', async () => {
  const s = await startServer(['-w', '1', '--log-format', 'json', '--access-logfile', '-', '--access-logformat', '%(h)s %(r)s %(s)s', APP], { workers: 1 });
  await request(s.port, '/mine');
  await waitFor(() => s.stdout.includes('\n'), 5000, 'an access line');
  assert.is(s.stdout.split('\n')[0], '127.0.0.1 GET /mine HTTP/1.1 200');
  await s.stop();
  const printed = await runCli(['--print-config', '--log-format', 'json']);
  assert.match(printed.stdout, /^access_logformat = json$/m, '--print-config shows the format access lines get');
});

test('a bad access log format is refused: one line, exit 2', async () => {
  const r = await runCli(['--access-logformat', '%(h)s %(zz)s', APP]);
  assert.is(r.code, 2);
  assert.is(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /access_logformat.*unknown access log atom %\(zz\)s/);
});

test('error log file, and USR1 reopens both logs after they are moved away', async () => {
  const dir = tempApp({});
  const errors = join(dir, 'error.log');
  const access = join(dir, 'access.log');
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const s = await startServer(['-w', '1', '-b', `127.0.0.1:${port}`, '--error-logfile', errors, '--access-logfile', access, APP]);
  await waitFor(() => lines(errors).some((l) => /\[DEBUG\] Worker ready/.test(l)), 10000, 'worker ready in the error log file');
  assert.match(lines(errors).join('\n'), /\[INFO\] Listening at: http:\/\/127\.0\.0\.1:\d+/);
  assert.not.match(s.log, /Listening at/, 'nothing on stderr');
  await request(port, '/before');
  await waitFor(() => lines(access).length === 1, 5000, 'first access line');

  renameSync(errors, `${errors}.1`);
  renameSync(access, `${access}.1`);
  s.signal('SIGUSR1');
  // The master's line, then the worker's (the master passes USR1 on): both write to the new file.
  await waitFor(() => lines(errors).filter((l) => /Reopened the log files/.test(l)).length >= 2, 5000, 'a new error log, master and worker');
  await waitFor(async () => { await request(port, '/after'); return lines(access).length > 0; }, 5000, 'a new access log');
  assert.match(lines(access)[0], /"GET \/after HTTP\/1\.1" 200/);
  assert.is(lines(`${access}.1`).length, 1, 'the moved file got nothing more');
  await s.stop();
});

test.run();
