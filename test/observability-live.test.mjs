// Live views of a running server, as an operator uses them: `narwhal ctl top` in a real terminal
// (tmux), `ctl status --watch` when stdout is not one, and the admin server's /status page in a
// real headless browser (chromium over the DevTools protocol), whose screenshot is kept in
// test-artifacts/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, openBrowser } from './helpers/browser.mjs';
import { CLI, FIXTURES, ROOT, killAll, request, sleep, startServer, tempApp, waitFor } from './helpers/server.mjs';

test.after(killAll);

const APP = join(FIXTURES, 'pid.js');
const ARTIFACTS = join(ROOT, 'test-artifacts');

async function adminPort(s) {
  return Number((await s.waitForLog(/Admin server at: http:\/\/127\.0\.0\.1:(\d+)/))[1]);
}

/** A private tmux server (its own socket), so the test touches no other session. */
function tmux(name) {
  const base = ['-L', `narwhal-test-${process.pid}-${name}`];
  const run = (...args) => execFileSync('tmux', [...base, ...args], { encoding: 'utf8', timeout: 10_000 });
  return {
    start: (cmd, { width = 80, height = 24 } = {}) => run('new-session', '-d', '-x', String(width), '-y', String(height), '-s', name, cmd),
    screen: () => run('capture-pane', '-p', '-t', name),
    keys: (...keys) => run('send-keys', '-t', name, ...keys),
    alive: () => { try { run('has-session', '-t', name); return true; } catch { return false; } },
    kill: () => { try { run('kill-server'); } catch { /* gone */ } },
  };
}

test('ctl top in an 80x24 terminal: a row per worker, + adds a worker and a row, q quits cleanly', async () => {
  const sock = join(tempApp({}), 'ctl.sock');
  const s = await startServer(['-w', '2', '--control-socket', sock, APP], { workers: 2 });
  const term = tmux('top');
  try {
    // The pane runs a shell line: ctl top, then a marker with its exit code once it quits.
    term.start(`'${process.execPath}' '${CLI}' ctl --control-socket '${sock}' top; echo "top exited $?"; sleep 30`);
    const workerRow = (pid) => new RegExp(`^${pid}\\s+ready\\s`, 'm');
    let screen = await waitFor(() => { const t = term.screen(); return s.workers().every((p) => workerRow(p).test(t)) && t; }, 10_000, 'a row per worker');
    assert.match(screen, /^narwhal \S+ · master \d+ · running/m);
    assert.match(screen, /pool: 2\/2 ready · shared/);
    assert.match(screen, /PID\s+STATE\s+AGE\s+REQS\s+REQ\/S\s+INFL\s+RSS\s+CPU%\s+HEAP\/LIMIT\s+LAG ms/);
    assert.match(screen, /\+ more workers {2}- fewer {2}r reload {2}s stop {2}q quit/);
    assert.ok(screen.split('\n').every((l) => l.length <= 80), 'every line fits 80 columns');
    // Requests show up in the REQS column.
    for (let i = 0; i < 10; i++) await request(s.port, '/');
    await waitFor(() => { const rows = term.screen().split('\n').filter((l) => /^\d+\s+ready/.test(l)); return rows.reduce((n, l) => n + Number(l.split(/\s+/)[3]), 0) >= 10; }, 5000, 'requests counted');

    term.keys('+');
    screen = await waitFor(() => { const t = term.screen(); return s.workers().length === 3 && s.workers().every((p) => workerRow(p).test(t)) && t; }, 15_000, 'a third worker row');
    assert.match(screen, /incr: target: 3 workers/);
    assert.match(screen, /pool: 3\/3 ready/);

    term.keys('s');
    await waitFor(() => /stop the server gracefully \(drain, then exit\)\? y\/N/.test(term.screen()), 5000, 'the stop confirmation');
    term.keys('n');
    await waitFor(() => /stop cancelled/.test(term.screen()), 5000, 'stop cancelled');
    assert.is(s.child.exitCode, null, 'the master still runs');

    term.keys('q');
    screen = await waitFor(() => { const t = term.screen(); return /top exited 0/.test(t) && t; }, 5000, 'top to quit');
    assert.not.match(screen, /PID\s+STATE/, 'the alternate screen is gone: the terminal is as it was');
  } finally {
    term.kill();
  }
  assert.is((await s.stop()).code, 0);
});

test('ctl top with stdout not a terminal prints ctl status every second (ctl status --watch)', async () => {
  const sock = join(tempApp({}), 'ctl.sock');
  const s = await startServer(['-w', '1', '--control-socket', sock, APP], { workers: 1 });
  for (const args of [['top'], ['status', '--watch']]) {
    const child = spawn(process.execPath, [CLI, 'ctl', '--control-socket', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    try {
      await waitFor(() => (out.match(/^master \d+: running/gm) ?? []).length >= 2, 5000, `two status readings from ctl ${args.join(' ')}`);
      assert.match(out, new RegExp(`^${s.workers()[0]}\\s+ready`, 'm'));
      assert.not.match(out, /\x1b\[/, 'no terminal escapes');
    } finally {
      child.kill('SIGKILL');
    }
  }
  assert.is((await s.stop()).code, 0);
});

test('/status in headless chromium: the workers table renders, updates after a TTIN, values are text (no HTML injection); screenshot kept', async () => {
  if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install chromium; .ci/run does)');
  // A thread that crashes with HTML in its message puts it in the master's warnings and last failure.
  const dir = tempApp({
    'app.js': `const { threadId } = require('node:worker_threads');
require('node:http').createServer((req, res) => {
  if (req.url === '/crash' && threadId > 0) { res.end('crashing'); setTimeout(() => { throw new Error('<img src=x id=injected>'); }, 10); return; }
  res.end('pid=' + process.pid);
}).listen(3000);
`,
  });
  const s = await startServer(['-w', '2', '--threads', '2', '--admin-bind', '127.0.0.1:0', join(dir, 'app.js')], { workers: 2 });
  const admin = await adminPort(s);
  const head = await request(admin, '/status');
  assert.is(head.status, 200);
  assert.match(head.headers['content-type'], /^text\/html/);
  assert.match(head.headers['content-security-policy'], /default-src 'none'; script-src 'self'/);
  let crashed = false;
  for (let i = 0; i < 80 && !crashed; i++) crashed = (await request(s.port, '/crash')).body === 'crashing';
  assert.ok(crashed, 'a thread took /crash');
  await s.waitForLog(/crashed \(a new thread replaces it\): uncaught Error: <img/);

  const browser = await openBrowser();
  try {
    await browser.navigate(`http://127.0.0.1:${admin}/status`);
    const rows = () => browser.evaluate("[...document.querySelectorAll('#workers tr.worker')].map((tr) => tr.dataset.pid)");
    const seen = await waitFor(async () => { const r = await rows(); return r.length === 2 && r; }, 10_000, '2 worker rows');
    assert.equal(seen.map(Number).sort(), s.workers().sort());
    assert.match(await browser.evaluate("document.getElementById('summary').textContent"), /2\/2 workers ready · shared/);
    assert.is(await browser.evaluate("document.querySelectorAll('#workers tr.thread').length"), 4, 'a row per event loop');
    assert.match(await browser.evaluate("document.getElementById('settings').textContent"), /threads2/);
    // The crash's message is shown as text, never parsed.
    assert.match(await browser.evaluate("document.getElementById('events').textContent"), /<img src=x id=injected>/);
    assert.is(await browser.evaluate("document.getElementById('injected')"), null);

    const refreshes = Number(await browser.evaluate("document.getElementById('updated').dataset.refreshes"));
    s.signal('SIGTTIN');
    await waitFor(async () => (await rows()).length === 3, 15_000, 'the page to show a third worker');
    assert.ok(Number(await browser.evaluate("document.getElementById('updated').dataset.refreshes")) > refreshes, 'the page refreshed itself');
    await waitFor(async () => /3\/3 workers ready/.test(await browser.evaluate("document.getElementById('summary').textContent")), 15_000, '3/3 ready');
    mkdirSync(ARTIFACTS, { recursive: true });
    const png = await browser.screenshot();
    assert.ok(png.subarray(1, 4).toString() === 'PNG' && png.length > 10_000, 'a PNG screenshot');
    writeFileSync(join(ARTIFACTS, 'status-page.png'), png);
  } finally {
    browser.close();
  }
  const json = JSON.parse((await request(admin, '/status.json')).body);
  assert.is(json.workers.length, 3);
  assert.ok(json.workers.every((w) => typeof w.cpu_s === 'number' && w.heap_limit_bytes > 0));
  await sleep(10);
  assert.is((await s.stop()).code, 0);
});

test.run();
