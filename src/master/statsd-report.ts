// The master's StatsD metrics (--statsd-host), read from the pool's snapshot once a second as
// Gunicorn's arbiter sends gunicorn.workers on each turn of its loop: `workers` (gauge: worker
// processes alive), `workers_ready` (gauge) and `worker.restarts.<reason>` (counter: the
// replacements since the last report, by reason: crash, timeout, max_requests, memory, reload,
// signal). Reading the snapshot changes nothing in the pool.
import type { Statsd } from '../log/statsd';
import type { PoolSnapshot } from './pool';
import { RESTART_REASONS, type RestartReason } from './worker-handle';

const REPORT_MS = 1000;

export function reportPool(statsd: Statsd, snapshot: () => PoolSnapshot): () => void {
  let before: Readonly<Record<RestartReason, number>> | null = null;
  const report = () => {
    const pool = snapshot();
    statsd.gauge('workers', pool.workers.filter((w) => w.state !== 'exited').length);
    statsd.gauge('workers_ready', pool.counts.ready);
    for (const reason of RESTART_REASONS) {
      const n = pool.restarts[reason] - (before?.[reason] ?? 0);
      if (n > 0) statsd.increment(`worker.restarts.${reason}`, n);
    }
    before = pool.restarts;
  };
  const timer = setInterval(report, REPORT_MS);
  timer.unref();
  return () => clearInterval(timer);
}
