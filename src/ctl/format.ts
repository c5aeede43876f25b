// `ctl status` as text: a header line for the master, a row per worker (and per event loop with
// --threads).
import type { PoolStatus } from '../master/status';

/** An age or an uptime: 42s, 3m07s, 2h05m. */
export const seconds = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`);

export function formatStatus(status: PoolStatus): string {
  const m = status.master;
  const lines = [
    `master ${m.pid}: ${m.phase}, target ${m.target} worker${m.target === 1 ? '' : 's'}, ${m.distribution}, up ${seconds(m.uptime_s)}` +
      (m.listeners.length ? `, listening at ${m.listeners.join(' ')}` : ''),
  ];
  const lag = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  // --threads: a row per event loop under its worker's row (thread 0 is the process's own loop).
  const rows = [['PID', 'STATE', 'AGE', 'REQUESTS', 'CONNS', 'RSS', 'LAG'], ...status.workers.flatMap((w) => [[
    String(w.pid), w.retiring && w.state !== 'draining' ? `${w.state} (retiring: ${w.retiring})` : w.state, seconds(w.age_s),
    String(w.requests), String(w.connections), `${(w.rss_bytes / 1e6).toFixed(1)} MB`, lag(w.lag_s),
  ], ...(w.threads ?? []).map((t) => [
    `  thread ${t.thread}`, t.restarts > 0 ? `${t.state} (restarts: ${t.restarts})` : t.state, seconds(t.age_s),
    String(t.requests), '', `heap ${(t.heap_used_bytes / 1e6).toFixed(1)} MB`, lag(t.lag_s),
  ])])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}

