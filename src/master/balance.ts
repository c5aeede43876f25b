// The shared socket's balance (and reuseport's). A few times a second, while any worker holds
// connections, the master asks every ready worker how many it holds (a report, as a /metrics
// scrape does: answers that left the workers at about the same moment, where heartbeats run on
// each worker's own clock); the policy (policy.ts, balanceSheds) names the workers holding
// clearly more than their share, and each is asked to shed that many idle keep-alive
// connections. A shed connection comes back here as its file descriptor (the kernel keeps
// whatever the client sends meanwhile) and goes on to the ready worker holding fewest, which
// serves it as its own: the client sees nothing.
// Round-robin needs none of this (the master picks a worker per connection), and connections a
// worker cannot hand over are never asked for: TLS and HTTP/2 state lives in the worker, a PROXY
// preamble was read there, a thread has no IPC channel (--threads).
import type { Logger } from '../log/logger';
import type { ResolvedDistribution, Settings } from '../config/settings';
import { balanceSheds } from './policy';
import type { WorkerHandle } from './worker-handle';

/** How often the workers' connections are compared. */
const ROUND_MS = 250;
/** The most connections one worker is asked to shed per round: the rest follow in the next ones. */
const MAX_SHED = 256;
/** A worker that does not answer within this is left out of the round. */
const REPORT_TIMEOUT_MS = 200;

interface RawHandle {
  close(): void;
}

export class ConnectionBalance {
  private timer: NodeJS.Timeout | null = null;
  private inRound = false;
  /** Connections handed to each worker this round (its report does not count them). */
  private readonly given = new Map<number, number>();
  /** Connections moved since the master started. */
  handedOver = 0;

  constructor(private readonly readyWorkers: () => WorkerHandle[], private readonly log: Logger) {}

  /** Whether these settings leave connections a worker could hand over. */
  static applies(settings: Settings, distribution: ResolvedDistribution): boolean {
    return settings.balance_connections === 'on' && distribution !== 'round-robin' && settings.threads <= 1
      && !settings.proxy_protocol && !settings.certfile;
  }

  /** Rounds run while `on` (the settings apply and the master serves), and stop otherwise. */
  run(on: boolean): void {
    if (on && !this.timer) (this.timer = setInterval(() => void this.round(), ROUND_MS)).unref();
    else if (!on && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async round(): Promise<void> {
    const ready = this.readyWorkers();
    // An idle pool costs nothing: heartbeats (every second at most) say when connections come.
    if (this.inRound || ready.length < 2 || ready.every((w) => !w.stats.connections)) return;
    this.inRound = true;
    try {
      const answered = await Promise.all(ready.map((w) => w.requestReport(REPORT_TIMEOUT_MS)));
      const workers = ready.filter((w, i) => answered[i] && w.state === 'ready');
      const sheds = balanceSheds(workers.map((w) => ({ pid: w.pid, connections: w.stats.connections ?? 0 })));
      this.given.clear();
      if (sheds.length === 0) return;
      for (const { pid, count } of sheds) workers.find((w) => w.pid === pid)?.send({ t: 'shed', count: Math.min(count, MAX_SHED) });
      const held = workers.map((w) => `${w.pid}: ${w.stats.connections ?? 0}`).join(', ');
      this.log.debug(`Balancing connections (${held}): ${sheds.map((s) => `${s.count} from worker ${s.pid}`).join(', ')}`);
    } finally {
      this.inRound = false;
    }
  }

  /** A connection `from` shed: to the ready worker holding fewest (back to `from` if there is no other). */
  moved(from: WorkerHandle, handle: RawHandle, served: number, failed: ReadonlySet<WorkerHandle> = new Set()): void {
    const to = this.leastLoaded(new Set([from, ...failed])) ?? (!failed.has(from) && from.child.connected ? from : null);
    if (!to) return handle.close();
    this.given.set(to.pid, (this.given.get(to.pid) ?? 0) + 1);
    to.send({ t: 'conn', listener: 0, served }, handle, (err) => {
      if (!err) {
        this.handedOver++;
        return handle.close();
      }
      // Not written (the worker is gone): the next one.
      this.moved(from, handle, served, new Set([...failed, to]));
    });
  }

  private leastLoaded(skip: ReadonlySet<WorkerHandle>): WorkerHandle | null {
    let best: WorkerHandle | null = null;
    let bestLoad = Infinity;
    for (const w of this.readyWorkers()) {
      if (skip.has(w) || !w.child.connected) continue;
      const load = (w.stats.connections ?? 0) + (this.given.get(w.pid) ?? 0);
      if (load < bestLoad) [best, bestLoad] = [w, load];
    }
    return best;
  }
}
