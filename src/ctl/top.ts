// `narwhal ctl top`: a live view of the pool, refreshed every second over the control socket (as
// `pm2 monit`): a row per worker (and per event loop with --threads), the pool's target and
// distribution, totals, restarts and the last failure, the master's last warnings; keys scale,
// reload and stop (after a confirmation) the pool. Plain ANSI escapes, no terminal library: the
// screen is redrawn whole, which is all an 80x24 table needs. When stdout is not a terminal it
// prints `ctl status` every second instead (`ctl status --watch`).
import type { ControlRequest } from '../master/control';
import type { PoolStatus, WorkerStatus } from '../master/status';
import { CtlError, request } from './client';
import { formatStatus, seconds } from './format';

const REFRESH_MS = 1000;
const KEYS = '+ more workers  - fewer  r reload  s stop  q quit';

/** Per-worker readings of the previous refresh, for rates. */
type Previous = Map<number, { at: number; requests: number; cpu_s: number }>;

async function fetchStatus(path: string): Promise<PoolStatus> {
  const reply = await request(path, { command: 'status' });
  if (reply.ok !== true) throw new CtlError(String(reply.error ?? 'the master refused status'), 1);
  const { ok: _ok, ...status } = reply;
  return status as unknown as PoolStatus;
}

/** `ctl status --watch`: the status text every second, until interrupted. */
export async function watchStatus(path: string, json: boolean): Promise<number> {
  for (;;) {
    const status = await fetchStatus(path);
    process.stdout.write(json ? `${JSON.stringify(status)}\n` : `${formatStatus(status)}\n`);
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
  }
}

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)}M`;
const fit = (line: string, width: number) => (line.length > width ? `${line.slice(0, width - 1)}~` : line);

/** Columns: [header, width, right-aligned]. */
const COLUMNS: Array<[string, number, boolean]> = [
  ['PID', 9, false], ['STATE', 8, false], ['AGE', 6, true], ['REQS', 7, true], ['REQ/S', 6, true], ['INFL', 4, true],
  ['RSS', 5, true], ['CPU%', 4, true], ['HEAP/LIMIT', 10, true], ['LAG ms', 6, true],
];
const row = (cells: string[]) => cells.map((c, i) => (COLUMNS[i]![2] ? c.padStart(COLUMNS[i]![1]) : c.padEnd(COLUMNS[i]![1]))).join(' ');

/** The screen for one reading: lines no wider than `width`, at most `height` of them. */
export function renderTop(status: PoolStatus, previous: Previous, now: number, width: number, height: number, note: string): string[] {
  const m = status.master;
  const rates = new Map<number, { rps: number; cpu: number }>();
  for (const w of status.workers) {
    const before = previous.get(w.pid);
    const dt = before ? (now - before.at) / 1000 : 0;
    rates.set(w.pid, dt > 0 ? { rps: Math.max(0, (w.requests - before!.requests) / dt), cpu: Math.max(0, ((w.cpu_s - before!.cpu_s) / dt) * 100) } : { rps: 0, cpu: 0 });
  }
  const live = status.workers.filter((w) => w.state !== 'exited');
  const ready = live.filter((w) => w.state === 'ready').length;
  const sum = (f: (w: WorkerStatus) => number) => live.reduce((n, w) => n + f(w), 0);
  const restarts = Object.entries(m.restarts).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none';
  const threads = Number(status.settings.threads ?? 1);
  const head = [
    `narwhal ${m.version} · master ${m.pid} · ${m.phase}${m.degraded ? ' (DEGRADED)' : ''} · up ${seconds(m.uptime_s)} · Node ${m.node}`,
    `pool: ${ready}/${m.target} ready · ${m.distribution}${threads > 1 ? ` · ${threads} threads per worker` : ''} · ${m.listeners.join(' ')}`,
    `total: ${Math.round([...rates.values()].reduce((n, r) => n + r.rps, 0))} req/s · ${sum((w) => w.in_flight)} in flight · ` +
      `RSS ${mb(sum((w) => w.rss_bytes))} · restarts: ${restarts}`,
    m.last_failure ? `last failure: ${m.last_failure}` : 'last failure: none',
    '',
    row(COLUMNS.map(([h]) => h)),
  ];
  const rows: string[] = [];
  for (const w of live) {
    const r = rates.get(w.pid)!;
    rows.push(row([
      String(w.pid), w.retiring && w.state !== 'draining' ? 'retiring' : w.state, seconds(w.age_s), String(w.requests), r.rps.toFixed(0),
      String(w.in_flight), mb(w.rss_bytes), r.cpu.toFixed(0), `${mb(w.heap_used_bytes)}/${mb(w.heap_limit_bytes)}`, (w.lag_s * 1000).toFixed(1),
    ]));
    for (const t of w.threads ?? []) {
      rows.push(row([` thread ${t.thread}`, t.state, seconds(t.age_s), String(t.requests), '', String(t.in_flight), '', '', mb(t.heap_used_bytes), (t.lag_s * 1000).toFixed(1)]));
    }
  }
  const events = status.events.slice(-3).map((e) => `${e.time.slice(11, 19)} ${e.level.toUpperCase()} ${e.message}`);
  const foot = ['', ...(events.length ? ['recent warnings:', ...events] : ['recent warnings: none']), note || KEYS];
  const room = Math.max(1, height - head.length - foot.length);
  const shown = rows.length > room ? [...rows.slice(0, room - 1), `… ${rows.length - room + 1} more rows`] : rows;
  return [...head, ...shown, ...foot].map((l) => fit(l, width));
}

/** The live view; resolves with the exit code when the user quits. */
export async function top(path: string): Promise<number> {
  const out = process.stdout;
  const input = process.stdin;
  if (!out.isTTY || !input.isTTY) return watchStatus(path, false);
  const previous: Previous = new Map();
  let note = '';
  let confirming = false;
  let timer: NodeJS.Timeout | null = null;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => { finish = resolve; });

  const draw = async () => {
    try {
      const status = await fetchStatus(path);
      const now = Date.now();
      const lines = renderTop(status, previous, now, out.columns || 80, out.rows || 24, note);
      previous.clear();
      for (const w of status.workers) previous.set(w.pid, { at: now, requests: w.requests, cpu_s: w.cpu_s });
      out.write(`\x1b[H\x1b[2J${lines.join('\n')}`);
    } catch (err) {
      out.write(`\x1b[H\x1b[2J${(err as Error).message}\n(retrying; q quits)`);
    }
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void draw().then(schedule), REFRESH_MS);
  };
  const act = async (req: ControlRequest) => {
    try {
      const reply = await request(path, req);
      note = reply.ok === true ? `${req.command}: ${String(reply.message ?? 'done')}` : `${req.command}: ${String(reply.error)}`;
    } catch (err) {
      note = (err as Error).message;
    }
    await draw();
    schedule();
  };
  const onKey = (key: string) => {
    if (confirming) {
      confirming = false;
      if (key === 'y' || key === 'Y') return void act({ command: 'stop' }).then(() => finish(0));
      note = 'stop cancelled';
      return void draw();
    }
    if (key === 'q' || key === '\x03') return finish(0);
    if (key === '+' || key === '=') return void act({ command: 'incr' });
    if (key === '-') return void act({ command: 'decr' });
    if (key === 'r') return void act({ command: 'reload' });
    if (key === 's') {
      confirming = true;
      note = 'stop the server gracefully (drain, then exit)? y/N';
      return void draw();
    }
  };

  input.setRawMode(true);
  input.setEncoding('utf8');
  input.on('data', (chunk: string) => { for (const key of chunk) onKey(key); });
  out.write('\x1b[?1049h\x1b[?25l'); // the alternate screen, no cursor
  const restore = () => out.write('\x1b[?25h\x1b[?1049l');
  process.once('exit', restore);
  out.on('resize', () => void draw());
  await draw();
  schedule();
  const code = await done;
  if (timer) clearTimeout(timer);
  input.setRawMode(false);
  input.pause();
  restore();
  process.off('exit', restore);
  return code;
}
