// A real headless browser for tests: Debian's chromium, driven over the Chrome DevTools Protocol
// (its WebSocket, with Node's own WebSocket client). Enough to load a page, read its DOM with a
// script, and take a screenshot; the browser is killed by PID when closed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Started, makeTempDir } from './proc.mjs';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;
const started = new Started();

/** Starts chromium on about:blank; resolves { evaluate, navigate, screenshot, close }. */
export async function openBrowser({ width = 1024, height = 768, timeoutMs = 20_000 } = {}) {
  if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install chromium; .ci/run does)');
  const profile = makeTempDir('narwhal-chromium-');
  const child = started.watch(spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
    `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', `--window-size=${width},${height}`, 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium did not start in ${timeoutMs} ms:\n${err}`)), timeoutMs);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:(\d+)\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(Number(m[2])); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}):\n${err}`)); });
  });
  const targets = await (await fetch(`http://127.0.0.1:${endpoint}/json/list`)).json();
  const page = targets.find((t) => t.type === 'page');
  const ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('cannot open the DevTools WebSocket')); });
  let nextId = 1;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const waiter = pending.get(msg.id);
    if (!waiter) return;
    pending.delete(msg.id);
    if (msg.error) waiter.reject(new Error(`${msg.error.message} (${msg.error.code})`));
    else waiter.resolve(msg.result);
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`${method}: no answer in ${timeoutMs} ms`)); }, timeoutMs);
    pending.set(id, { resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    ws.send(JSON.stringify({ id, method, params }));
  });
  await send('Page.enable');
  return {
    async navigate(url) {
      await send('Page.navigate', { url });
    },
    /** Runs `expression` in the page; resolves its value (JSON-serialisable). */
    async evaluate(expression) {
      const r = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
      if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value;
    },
    /** A PNG of the viewport, as a Buffer. */
    async screenshot() {
      const { data } = await send('Page.captureScreenshot', { format: 'png' });
      return Buffer.from(data, 'base64');
    },
    close() {
      try { ws.close(); } catch { /* closed */ }
      started.killAll();
    },
  };
}
