// systemd: socket activation (LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES) with systemd's own
// systemd-socket-activate, and readiness over NOTIFY_SOCKET (READY=1, RELOADING=1, STOPPING=1)
// received on a unix datagram socket that systemd-socket-activate --datagram makes for a reader.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CLI, FIXTURES, ROOT, cleanEnv, killAll, request, runCli, sleep, tempApp, waitFor } from './helpers/server.mjs';
import { killTree } from './helpers/proc.mjs';
import { runnable } from './helpers/needs.mjs';

const FILE = import.meta.url;
const APP = join(FIXTURES, 'pid.js');
const NEEDS = { programs: [['systemd-socket-activate', 'systemd'], ['systemd-notify', 'systemd']] };
const started = [];
test.after(async () => {
  for (const p of started) killTree(p.pid);
  await killAll();
});

/** Runs CMD ARGS as a child, collecting its output; killed by PID at the end of the file. */
function run(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { child, pid: child.pid, out: '', exit: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))) };
  child.stdout.on('data', (d) => { proc.out += d; });
  child.stderr.on('data', (d) => { proc.out += d; });
  started.push(proc);
  return proc;
}

async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

test('socket activation: narwhal serves the sockets systemd passed, named, and ignores --bind', async () => {
  if (!runnable(FILE, 'socket activation', NEEDS)) return;
  const [a, b] = [await freePort(), await freePort()];
  // systemd-socket-activate binds, then execs narwhal with LISTEN_FDS=2 on the first connection.
  const sa = run('systemd-socket-activate', ['-l', `127.0.0.1:${a}`, '-l', `127.0.0.1:${b}`, '--fdname=web:api',
    process.execPath, CLI, '-w', '2', '--log-level', 'debug', '-b', '127.0.0.1:1', APP]);
  await waitFor(() => /Listening on 127\.0\.0\.1:\d+ as 4/.test(sa.out), 5000, `systemd-socket-activate listening:\n${sa.out}`);
  const [first, second] = await Promise.all([request(a, '/'), request(b, '/')]);
  assert.is(first.status, 200);
  assert.is(second.status, 200);
  assert.match(sa.out, new RegExp(`systemd socket activation: serving fd://3 \\(web\\), fd://4 \\(api\\); bind is ignored`));
  assert.match(sa.out, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${a} `));
  assert.match(sa.out, new RegExp(`Listening at: http://127\\.0\\.0\\.1:${b} `));
  assert.not.match(sa.out, /Listening at: http:\/\/127\.0\.0\.1:1 /);
  // The variables are the master's: the app does not see them.
  const env = tempApp({ 'env.js': 'module.exports = (req, res) => res.end(JSON.stringify([process.env.LISTEN_FDS, process.env.LISTEN_PID]));\n' });
  const sb = run('systemd-socket-activate', ['-l', `127.0.0.1:${await freePort()}`, process.execPath, CLI, '-w', '1', join(env, 'env.js')]);
  await waitFor(() => /Listening on 127\.0\.0\.1:(\d+) as 3/.test(sb.out), 5000, 'listening');
  const port = Number(/Listening on 127\.0\.0\.1:(\d+) as 3/.exec(sb.out)[1]);
  assert.is((await request(port, '/')).body, '[null,null]');
  // It is the master that systemd-socket-activate exec'd: TERM reaches it and it drains, exit 0.
  process.kill(sa.pid, 'SIGTERM');
  assert.is((await sa.exit).code, 0);
  process.kill(sb.pid, 'SIGTERM');
  assert.is((await sb.exit).code, 0);
});

test('NOTIFY_SOCKET: READY=1 when the pool is ready, RELOADING=1 then READY=1 on HUP, STOPPING=1 on TERM', async () => {
  if (!runnable(FILE, 'NOTIFY_SOCKET readiness', NEEDS)) return;
  const dir = tempApp({
    // Prints every datagram received on fd 3 (a blocking read per datagram) as a JSON line.
    'reader.cjs': `const fs = require('fs'); const buf = Buffer.alloc(65536);
for (;;) { const n = fs.readSync(3, buf, 0, buf.length, null); fs.writeSync(1, JSON.stringify(buf.toString('utf8', 0, n)) + '\\n'); }\n`,
  });
  const socket = join(dir, 'notify.sock');
  const reader = run('systemd-socket-activate', ['--datagram', '-l', socket, process.execPath, join(dir, 'reader.cjs')]);
  await waitFor(() => existsSync(socket), 5000, 'the notify socket');
  const messages = () => reader.out.split('\n').filter((l) => l.startsWith('"')).map((l) => JSON.parse(l)).filter((m) => m !== 'BARRIER=1');
  const port = await freePort();
  const master = run(process.execPath, [CLI, '-w', '2', '--log-level', 'debug', '-b', `127.0.0.1:${port}`, APP], { NOTIFY_SOCKET: socket });
  await waitFor(() => messages().length >= 1, 10000, `READY=1 (master log:\n${master.out})`);
  assert.equal(messages(), [`MAINPID=${master.pid}\nREADY=1`]);
  assert.is((master.out.match(/Worker ready/g) ?? []).length, 2, 'sent once both workers were ready');
  assert.is((await request(port, '/')).status, 200);
  process.kill(master.pid, 'SIGHUP');
  await waitFor(() => messages().length >= 3, 15000, `RELOADING=1, READY=1 (got ${JSON.stringify(messages())})`);
  assert.equal(messages().slice(1), [`MAINPID=${master.pid}\nRELOADING=1`, `MAINPID=${master.pid}\nREADY=1`]);
  assert.is((master.out.match(/Worker ready/g) ?? []).length, 4, 'READY=1 after the reload came once both successors were ready');
  await sleep(100);
  process.kill(master.pid, 'SIGTERM');
  assert.is((await master.exit).code, 0);
  await waitFor(() => messages().length >= 4, 5000, 'STOPPING=1');
  assert.is(messages()[3], `MAINPID=${master.pid}\nSTOPPING=1`);
});

test('the example unit file: Type=notify with NotifyAccess=all, and an ExecStart narwhal accepts', async () => {
  const unit = readFileSync(join(ROOT, 'docs/systemd/narwhal.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=all$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  assert.match(unit, /^KillMode=mixed$/m);
  const args = /^ExecStart=\S+ (.*)$/m.exec(unit)[1].split(' ');
  const r = await runCli(['--print-config', ...args.slice(0, -1)]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^control_socket = \/run\/narwhal\/ctl\.sock$/m);
  assert.match(readFileSync(join(ROOT, 'docs/systemd/narwhal.socket'), 'utf8'), /^ListenStream=/m);
});

test.run();
