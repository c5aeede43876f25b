// --threads N: the other N-1 event loops of a worker process, supervised by the process's own loop
// as the master supervises processes. Each thread runs its own copy of the app (worker.ts, behind a
// ThreadLink) and accepts on its own copy of each listening socket, which the master sends over
// IPC (a copy is the same socket in the kernel: one accept queue, so a draining loop that stops
// accepting leaves what is queued to the others). The process's loop holds each copy's handle
// unused for as long as it lives: the thread owns the fd, and closes it when it ends.
//
// Supervision, per thread: a thread that throws or exits is replaced (back-off when it keeps
// dying young); one whose loop sends no heartbeat for --timeout is terminated and replaced; one
// that reached max-requests gets its successor first, then drains. Each end is told to the master
// (`thread-exit`), which logs it and counts it in narwhal_worker_restarts_total{reason}.
import { Worker as Thread } from 'node:worker_threads';
import type { BootMessage, ListenerPlan, ThreadStats, WorkerMessage, WorkerStats } from '../../ipc';
import type { Logger } from '../../log/logger';
import type { RawServerHandle } from '../../platform/node/net';
import { isSingleExecutable } from '../../platform/sea';
import type { ThreadData } from '../link';
import type { MasterLink } from '../master-link';
import { Slot, type ExitReason, type RunningThread } from './slot';

/** A thread that ends sooner than this after it started died young: the next start backs off. */
const HEALTHY_LIFE_MS = 1000;
/** How long a metrics report waits for the threads' counters. */
const REPORT_WAIT_MS = 200;

type Sums = Pick<WorkerStats, 'requests' | 'codes' | 'buckets' | 'durationSums'>;

export class ThreadGroup {
  private readonly slots: Slot[] = [];
  private draining = false;
  /** Every thread has started once: from then on an end is replaced and told to the master. */
  private running = false;
  /** What threads that have ended had counted: the worker's totals never go down. */
  private readonly ended: Required<Sums> = { requests: 0, codes: [], buckets: [], durationSums: [] };
  private readonly watchdog: NodeJS.Timeout;
  private allStopped: (() => void) | null = null;

  constructor(
    private readonly boot: BootMessage,
    private readonly master: MasterLink,
    private readonly send: (m: WorkerMessage) => void,
    private readonly log: Logger,
  ) {
    for (let i = 1; i < boot.threads; i++) this.slots.push(new Slot(i));
    this.watchdog = setInterval(() => this.watch(), boot.heartbeatMs);
    this.watchdog.unref();
  }

  /** Starts every thread; resolves null once all are ready, or the first boot failure's message. */
  async start(): Promise<string | null> {
    const started = await Promise.all(this.slots.map((slot) => this.spawn(slot)));
    const failure = started.find((f) => f !== null) ?? null;
    this.running = failure === null;
    return failure;
  }

  /** Adds the threads to the process loop's own stats (a heartbeat to the master). */
  merge(own: WorkerStats): WorkerStats {
    const loops: ThreadStats[] = [{
      thread: 0, threadId: 0, state: this.draining ? 'draining' : 'ready', startedAt: 0, requests: own.requests, inFlight: own.inFlight,
      lag: own.lag, heapUsed: own.heapUsed ?? 0, heapLimit: own.heapLimit, restarts: 0,
    }];
    const total: WorkerStats = { ...own, codes: [...(own.codes ?? [])], buckets: [...(own.buckets ?? [])], durationSums: [...(own.durationSums ?? [])] };
    addCounts(total, this.ended);
    for (const slot of this.slots) {
      for (const thread of slot.threads()) {
        addCounts(total, thread.stats);
        total.inFlight += thread.stats.inFlight;
        total.connections = (total.connections ?? 0) + (thread.stats.connections ?? 0);
        total.heapLimit += thread.stats.heapLimit;
        total.heapUsed = (total.heapUsed ?? 0) + (thread.stats.heapUsed ?? 0);
        total.lag = Math.max(total.lag, thread.stats.lag);
      }
      const current = slot.current;
      if (current) loops.push(slot.describe(current));
    }
    total.threads = loops;
    return total;
  }

  /** Asks every thread for a heartbeat now (a /metrics scrape); resolves when all answered, or soon. */
  refresh(): Promise<void> {
    const waits = this.slots.flatMap((slot) => slot.threads().map((t) => t.report()));
    return Promise.race([Promise.all(waits).then(() => {}), new Promise<void>((r) => setTimeout(r, REPORT_WAIT_MS).unref())]);
  }

  reopenLogs(): void {
    for (const slot of this.slots) for (const t of slot.threads()) t.thread.postMessage({ t: 'reopen' });
  }

  /** The worker drains: every thread stops accepting and drains too; no thread is started again. */
  drain(closeIdle: boolean): void {
    if (this.draining) return;
    this.draining = true;
    clearInterval(this.watchdog);
    for (const slot of this.slots) {
      slot.cancelRestart();
      for (const t of slot.threads()) t.drain(closeIdle);
    }
  }

  /** Resolves once every thread has ended (after drain()). */
  stopped(): Promise<void> {
    if (this.slots.every((s) => s.threads().length === 0)) return Promise.resolve();
    return new Promise((resolve) => { this.allStopped = resolve; });
  }

  // ---- one thread ------------------------------------------------------------------------

  /** Starts the slot's thread (a successor when one is running); resolves null once it is ready. */
  private async spawn(slot: Slot): Promise<string | null> {
    const copies = await this.listenerCopies();
    if (this.draining) return null;
    const listeners: ListenerPlan[] = this.boot.listeners.map((plan) => {
      if (plan.kind !== 'inherited') return plan;
      const copy = copies.get(plan.address);
      return copy ? { ...plan, fd: copy.fd } : plan;
    });
    const data: ThreadData = { boot: { ...this.boot, listeners }, thread: slot.index };
    const limits = this.boot.threadHeapMb ? { resourceLimits: { maxOldGenerationSizeMb: this.boot.threadHeapMb } } : {};
    const thread = isSingleExecutable()
      ? new Thread(threadSource(), { eval: true, workerData: data, ...limits })
      : new Thread(process.argv[1] as string, { workerData: data, ...limits });
    const running = slot.started(thread, [...copies.values()]);
    thread.on('message', (m: WorkerMessage) => this.onMessage(slot, running, m));
    thread.on('error', (err) => running.failed(err));
    thread.on('exit', (code) => this.onExit(slot, running, code));
    return running.ready;
  }

  private async listenerCopies(): Promise<Map<string, RawServerHandle>> {
    if (!this.boot.listeners.some((l) => l.kind === 'inherited')) return new Map();
    return this.master.copies();
  }

  private onMessage(slot: Slot, running: RunningThread, m: WorkerMessage): void {
    switch (m?.t) {
      case 'ready':
        running.isReady();
        // A successor is ready: its predecessor drains now, its requests answered.
        for (const old of slot.predecessors(running)) if (old.retiring !== null) old.drain(false);
        return;
      case 'heartbeat': {
        const { t: _t, report, ...stats } = m;
        return running.beat(stats, report);
      }
      case 'boot-error':
        return running.bootError(m.message);
      case 'retire':
        if (!this.draining && slot.current === running && !running.retiring) {
          running.retiring = 'max_requests';
          this.log.info(`Thread ${slot.index} of worker (pid:${process.pid}) served its max-requests: a new thread replaces it`);
          void this.spawn(slot);
        }
        return;
      case 'stopping':
        // The app closed the server narwhal serves in this thread: a successor takes its place.
        if (!this.draining && slot.current === running && !running.retiring) {
          running.retiring = 'app-closed';
          this.log.warning(`The app closed the server narwhal serves in thread ${slot.index} of worker (pid:${process.pid}): a new thread replaces it`);
          void this.spawn(slot);
        }
        return;
      case 'listen':
        // An extra server of the app's (adopt.ts, rule 5): the master binds it, this loop keeps
        // the handle, the thread accepts on its fd.
        this.master.share(m.address, m.backlog).then(
          (handle) => { running.keep(handle); running.thread.postMessage({ t: 'listen-result', id: m.id, fd: handle.fd }); },
          (errno: number) => running.thread.postMessage({ t: 'listen-result', id: m.id, errno }),
        );
        return;
      default:
        // 'session' (--sticky is refused with --threads) and the app's own messages: not ours.
        return;
    }
  }

  private onExit(slot: Slot, running: RunningThread, code: number): void {
    const reason: ExitReason | null = running.endReason(this.draining);
    addCounts(this.ended, running.stats);
    slot.ended(running);
    if (this.draining) {
      if (this.allStopped && this.slots.every((s) => s.threads().length === 0)) this.allStopped();
      return;
    }
    // Before every thread first started, start() reports a failure (the worker fails to boot).
    if (reason === null || !this.running) return;
    const message = running.describeEnd(`Thread ${slot.index} of worker (pid:${process.pid})`, reason, code);
    this.send({ t: 'thread-exit', thread: slot.index, reason, message });
    if (reason === 'max_requests') return; // its successor is already serving
    if (slot.current !== null) return; // a successor was already started
    const young = Date.now() - running.startedAt < HEALTHY_LIFE_MS;
    const delay = slot.restartDelay(young);
    slot.restartIn(delay, () => void this.spawn(slot).then((failure) => {
      if (failure !== null) this.log.error(`Thread ${slot.index} of worker (pid:${process.pid}) failed to start: ${failure}`);
    }));
  }

  /** --timeout per thread: a thread whose loop sent no heartbeat for that long is terminated. */
  private watch(): void {
    const timeoutMs = this.boot.settings.timeout * 1000;
    if (timeoutMs <= 0 || this.draining) return;
    const now = Date.now();
    for (const slot of this.slots) {
      for (const t of slot.threads()) {
        if (t.retiring === null && now - t.lastBeat > timeoutMs) {
          // The master logs the end (thread-exit) when the thread has gone.
          t.retiring = 'timeout';
          void t.thread.terminate();
        }
      }
    }
  }
}

function addCounts(into: Sums, from: Sums): void {
  into.requests += from.requests;
  const add = (a: number[], b: number[] | undefined) => b?.forEach((n, i) => { a[i] = (a[i] ?? 0) + n; });
  into.codes ??= [];
  into.buckets ??= [];
  into.durationSums ??= [];
  add(into.codes, from.codes);
  add(into.buckets, from.buckets);
  add(into.durationSums, from.durationSums);
}

let source: string | undefined;
/** In the single binary there is no worker bundle on disk: the build embeds it as an asset. */
function threadSource(): string {
  source ??= (require('node:sea') as { getAsset(key: string, encoding: string): string }).getAsset('narwhal-worker.js', 'utf8');
  return source;
}
