// Operations settings end to end: --reload, --log-format json, -e/--env, --chdir, --umask, HUP
// (pidfile moved, kept settings named), and CLI messages in the user's own spelling.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { FIXTURES, killAll, request, runCli, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);
const APP = join(FIXTURES, 'pid.js');

test('--reload: an edited app file is served within seconds, by a rolling restart; node_modules is ignored', async () => {
  const dir = tempApp({
    'app.js': "module.exports = (req, res) => res.end('version 1');\n",
    'node_modules/dep/index.js': 'module.exports = 1;\n',
    'views/page.html': '<p>1</p>\n',
  });
  const s = await startServer(['-w', '2', '--reload', '--reload-extra-file', 'views', 'app.js'], { cwd: dir, workers: 2 });
  await s.waitForLog(/Reload: watching /);
  assert.is((await request(s.port)).body, 'version 1');
  writeFileSync(join(dir, 'node_modules/dep/index.js'), 'module.exports = 2;\n');
  writeFileSync(join(dir, 'app.js'), "module.exports = (req, res) => res.end('version 2');\n");
  writeFileSync(join(dir, 'app.js'), "module.exports = (req, res) => res.end('version 3');\n");
  await waitFor(async () => (await request(s.port)).body === 'version 3', 8000, 'the edited app served');
  await s.waitForReady(4);
  await waitFor(() => s.workers().length === 2, 8000, 'old workers gone');
  assert.is(s.count(/Reloading: /), 1, 'two quick saves are one reload');
  assert.match(s.log, /Reloading: app\.js changed/);
  assert.not.match(s.log, /node_modules\/dep/);
  // A file under --reload-extra-file, whatever its extension.
  writeFileSync(join(dir, 'views/page.html'), '<p>2</p>\n');
  await s.waitForLog(/Reloading: views\/page\.html changed/, 8000);
  assert.is((await s.stop()).code, 0);
});

test('--log-format json: every error-log line of master and workers is one JSON object', async () => {
  const s = await startServer(['-w', '1', '--log-format', 'json', APP], { workers: 1 });
  const [worker] = s.workers();
  assert.is((await request(s.port, '/throw')).status, 500);
  await s.waitForLog(/Error handling request/);
  s.signal('SIGTTIN');
  await s.waitForReady(2);
  assert.is((await s.stop()).code, 0);
  const entries = s.log.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  for (const e of entries) {
    assert.type(e.time, 'string');
    assert.ok(!Number.isNaN(Date.parse(e.time)), e.time);
    assert.ok(['debug', 'info', 'warning', 'error', 'critical'].includes(e.level), e.level);
    assert.type(e.pid, 'number');
    assert.type(e.message, 'string');
  }
  const failed = entries.find((e) => e.message.startsWith('Error handling request GET /throw'));
  assert.is(failed.level, 'error');
  assert.is(failed.pid, worker, "the worker's own line");
  assert.match(failed.message, /\n {4}at /, 'the stack trace inside the one object');
  const booting = entries.filter((e) => e.message.startsWith('Booting worker'));
  assert.is(booting.length, 2);
  assert.is(booting[0].worker, worker);
  assert.is(booting[0].pid, s.pid);
  assert.ok(entries.some((e) => e.signal === 'SIGTTIN' && e.message === 'Handling signal: ttin'));
});

test('-e/--env and --chdir are seen by the app; a relative APP is found from --chdir', async () => {
  const dir = tempApp({
    'site/app.js': 'module.exports = (req, res) => res.end(JSON.stringify({ cwd: process.cwd(), a: process.env.A, b: process.env.B, path: process.env.PATH }));\n',
  });
  const s = await startServer(['-w', '1', '--chdir', 'site', '-e', 'A=1', '--env', 'B=x,y=z', 'app.js'], { cwd: dir, workers: 1 });
  const seen = JSON.parse((await request(s.port)).body);
  assert.is(seen.cwd, join(dir, 'site'));
  assert.is(seen.a, '1');
  assert.is(seen.b, 'x,y=z', 'commas and = stay in the value');
  assert.is(seen.path, process.env.PATH, 'the rest of the environment is kept');
  assert.is((await s.stop()).code, 0);
  const bad = await runCli(['-e', 'NOVALUE', APP]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /invalid value for raw_env \(--env\): "NOVALUE"; allowed: KEY=VALUE/);
  const missing = await runCli(['--chdir', 'no/such/dir', APP], { cwd: dir });
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /invalid value for chdir \(--chdir\): "no\/such\/dir"; allowed: an existing directory/);
});

test('--umask is applied before anything binds or the app loads: the unix socket and the app\'s files', async () => {
  const dir = tempApp({ 'app.js': "require('fs').writeFileSync(__dirname + '/made-by-app', 'x');\nmodule.exports = (req, res) => res.end('ok');\n" });
  const sock = join(dir, 'app.sock');
  const s = await startServer(['-w', '1', '-b', `unix:${sock}`, '-b', '127.0.0.1:0', '--umask', '077', 'app.js'], { cwd: dir, workers: 1 });
  assert.is((statSync(sock).mode & 0o777).toString(8), '700');
  assert.is((statSync(join(dir, 'made-by-app')).mode & 0o777).toString(8), '600');
  const body = await new Promise((resolve, reject) => {
    http.get({ socketPath: sock, path: '/' }, (res) => { let b = ''; res.on('data', (c) => { b += c; }); res.on('end', () => resolve(b)); }).on('error', reject);
  });
  assert.is(body, 'ok');
  assert.is((await s.stop()).code, 0);
  const r = await runCli(['--print-config', '--umask', '0o027']);
  assert.match(r.stdout, /^umask = 0027$/m);
  const bad = await runCli(['--umask', '999', APP]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /invalid value for umask \(--umask\): "999"; allowed: an octal mode/);
});

test('HUP: a changed pid moves the pidfile; a changed kept setting is one log line; the JS config is read again', async () => {
  const dir = tempApp({});
  const config = join(dir, 'narwhal.config.js');
  const write = (pid, adminBind) => writeFileSync(config, `module.exports = { pid: ${JSON.stringify(pid)}, admin_bind: ${JSON.stringify(adminBind)} };\n`);
  write(join(dir, 'one.pid'), null);
  const s = await startServer(['-w', '1', APP], { cwd: dir, workers: 1 });
  assert.is(Number(readFileSync(join(dir, 'one.pid'), 'utf8')), s.pid);
  write(join(dir, 'two.pid'), '127.0.0.1:0');
  s.signal('SIGHUP');
  await s.waitForLog(/Pidfile: .*one\.pid -> .*two\.pid/);
  assert.is(Number(readFileSync(join(dir, 'two.pid'), 'utf8')), s.pid);
  assert.not.ok(existsSync(join(dir, 'one.pid')), 'the old pidfile is removed');
  await s.waitForLog(/\[WARNING\] Reload: admin_bind changed, but HUP keeps it as started; restart narwhal to apply/);
  assert.is(s.count(/Reload: .* changed/), 1);
  await s.waitForReady(2);
  assert.is((await request(s.port)).status, 200);
  assert.not.match(s.log, /Admin server/i, 'no admin server was started by the HUP');
  assert.is((await s.stop()).code, 0);
  assert.not.ok(existsSync(join(dir, 'two.pid')), 'removed at exit');
});

test('CLI: an unknown option is reported as typed, with the nearest flag; --help is grouped by section', async () => {
  const typo = await runCli(['--log-formt', 'json', APP]);
  assert.is(typo.code, 2);
  assert.is(typo.stderr, 'narwhal: error: unknown option --log-formt; did you mean --log-format? (see narwhal --help)\n');
  const camel = await runCli(['--logFormat', 'json', APP]);
  assert.match(camel.stderr, /^narwhal: error: unknown option --logFormat; did you mean --log-format\?/);
  const far = await runCli(['--frobnicate', APP]);
  assert.is(far.stderr, 'narwhal: error: unknown option --frobnicate (see narwhal --help)\n');
  const noValue = await runCli([APP, '--bind']);
  assert.is(noValue.code, 2);
  assert.match(noValue.stderr, /option --bind needs a value: -b, --bind <address>/);
  const ok = await runCli(['--log-format', 'json', '--print-config']);
  assert.match(ok.stdout, /^log_format = json$/m);
  const badFormat = await runCli(['--log-format', 'yaml', APP]);
  assert.match(badFormat.stderr, /invalid value for log_format \(--log-format\): "yaml"; allowed: one of text, json/);
  const help = (await runCli(['--help'])).stdout;
  const order = ['Server socket and requests:', 'Worker processes:', 'Admin endpoints and control socket:', 'Process:', 'Logging:', 'Development:', 'Server hooks'];
  const at = order.map((title) => help.indexOf(`\n${title}`));
  assert.ok(at.every((i) => i > 0), `sections: ${at}`);
  assert.equal([...at].sort((a, b) => a - b), at, 'in registry order');
  assert.match(help, /\n {2}-w, --workers <n> +Number of worker processes/);
  assert.match(help, /\n {2}preRequest\(worker, req, res\) +in the worker: /);
  assert.match(help, /narwhal ctl \[--control-socket PATH\] status/);
});

test.run();
