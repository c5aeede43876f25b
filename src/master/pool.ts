// The pool of workers: it owns their handles. It spawns them (listener plans, max-requests
// jitter, the boot message), reads what they say, carries out what the supervision policy
// (policy.ts) decides, and publishes one snapshot that the admin server, /metrics, `narwhal ctl`
// and the hooks read. The arbiter drives it: target, settings, listeners, stop; the pool reads
// the arbiter's phase (lifecycle.ts) and never changes it.
import type { ResolvedDistribution, Settings } from '../config/settings';
import { SETTING_LIST } from '../config/settings';
import { boundAddress, type Listener } from '../http/listeners';
import type { Logger } from '../log/logger';
import type { WorkerIdentity } from '../platform/users';
import { WORKER_BOOT_ERROR, type ListenerPlan, type WorkerMessage, type WorkerStats } from '../ipc';
import { observedPhase, shuttingDown, stopping, type MasterPhase, type ObservedPhase } from './lifecycle';
import {
  HEALTHY, MIN_HEALTHY_LIFE_MS, backOffDelay, decide, degradedDetail, describePoolEvent, unplannedExit, watchPool,
  type DegradedDetail, type PoolWatch,
} from './policy';
import { ConnectionBalance } from './balance';
import { inheritedFd, spawnWorker } from './spawn';
import { RESTART_REASONS, WorkerHandle, type RestartReason, type WorkerSnapshot, type WorkerState } from './worker-handle';

/** Hooks are functions: workers load theirs from the config file themselves. */
const HOOKS = SETTING_LIST.filter((s) => s.hook);
const WORKER_HOOKS = HOOKS.filter((s) => s.hook?.where === 'worker').map((s) => s.name);

/** The pool as every observer sees it (admin, metrics, ctl, hooks): a frozen copy. */
export interface PoolSnapshot {
  /** The master's phase (the arbiter's, lifecycle.ts), as observers show it. */
  readonly phase: ObservedPhase;
  readonly target: number;
  readonly distribution: ResolvedDistribution;
  readonly listeners: readonly string[];
  /** Oldest first. */
  readonly workers: readonly WorkerSnapshot[];
  readonly counts: Readonly<Record<Exclude<WorkerState, 'exited'>, number>>;
  readonly restarts: Readonly<Record<RestartReason, number>>;
  /** Connections the balance moved between workers (balance.ts). */
  readonly balanced: number;
  /** Below target for longer than --degraded-after; null while healthy. */
  readonly degraded: DegradedDetail | null;
  /** The last worker (or thread) exit or failed boot nobody asked for, if any. */
  readonly lastFailure: string | null;
}

/** How a worker's process is started: from the plan (environment, heap flags, identity). */
export interface SpawnPlan {
  env: () => NodeJS.ProcessEnv;
  nodeFlags: (workers: number) => string[];
  /** --threads: each thread's heap (the process's own loop has it from nodeFlags); null: Node's. */
  threadHeapMb: (workers: number) => number | null;
  identity?: WorkerIdentity;
}

/** Where the pool's workers go for routing (round-robin, --sticky, Socket.IO, extra listeners). */
export interface Routing {
  track(worker: WorkerHandle): void;
  workerReady(): void;
  exited(worker: WorkerHandle): void;
  /** A message that is not narwhal's: the app's own, to its "primary" (Socket.IO adapters). */
  appMessage(worker: WorkerHandle, message: unknown): boolean;
  session(worker: WorkerHandle, sid: string, open: boolean): void;
  listen(worker: WorkerHandle, id: number, address: string): void;
}

/** What the pool tells the arbiter. */
export interface PoolEvents {
  /** Workers changed state (readiness, announcements). */
  changed(): void;
  /** A worker became ready: the first one ends the master's booting phase. */
  ready(): void;
  /** Before a spawn and after one: the preFork, postFork and childExit hooks. */
  preFork(age: number): void;
  postFork(worker: WorkerSnapshot): void;
  childExit(worker: WorkerSnapshot): void;
  /** While the master boots (no worker ready yet), one failed: the master halts (Gunicorn's WORKER_BOOT_ERROR). */
  bootFailed(reason: string, code: number): void;
  /** While stopping: the last worker is gone. */
  empty(): void;
}

export class Pool {
  private size: number;
  private readonly workers = new Map<number, WorkerHandle>();
  private readonly restarts = Object.fromEntries(RESTART_REASONS.map((r) => [r, 0])) as Record<RestartReason, number>;
  private settings: Settings;
  private listeners: Listener[] = [];
  private urlOf: (l: Listener) => string = (l) => l.url;
  private age = 0;
  private bootFailures = 0;
  private nextSpawnAt = 0;
  private lastFailureAt = 0;
  private poolWatch: PoolWatch = HEALTHY;
  private degraded: DegradedDetail | null = null;
  /** The last worker exit or failed boot nobody asked for, for the degraded detail. */
  private lastFailure: string | null = null;
  /** How the workers serve the app, as they last reported it: logged when it changes. */
  private serving = '';
  /** Workers taking new connections, kept up to date on every change; read on every connection. */
  private readyList: WorkerHandle[] = [];
  private published: PoolSnapshot | null = null;
  /** Idle keep-alive connections moved from fuller workers to emptier ones (balance.ts). */
  private readonly balance: ConnectionBalance;
  /** Listeners for each worker heartbeat, given the worker's previous stats (metrics). */
  readonly onHeartbeat: Array<(worker: WorkerSnapshot, previous: WorkerStats) => void> = [];

  constructor(
    private readonly app: string,
    private readonly distribution: ResolvedDistribution,
    settings: Settings,
    target: number,
    private readonly spawnPlan: SpawnPlan,
    private readonly log: Logger,
    private readonly events: PoolEvents,
    /** The master's phase: the arbiter's to change, read here (lifecycle.ts). */
    private readonly phase: () => MasterPhase,
    private readonly configFile: string | null,
    private routing: Routing | null = null,
  ) {
    this.settings = settings;
    this.size = target;
    this.balance = new ConnectionBalance(() => this.readyList, log);
  }

  /** The pool size to keep (--workers, TTIN/TTOU, HUP). */
  get target(): number {
    return this.size;
  }

  set target(n: number) {
    this.size = n;
    this.published = null;
  }

  /** New settings (HUP): they apply to the next decisions and spawns. */
  configure(settings: Settings): void {
    this.settings = settings;
  }

  useListeners(listeners: Listener[], urlOf: (l: Listener) => string): void {
    this.listeners = listeners;
    this.urlOf = urlOf;
  }

  useRouting(routing: Routing): void {
    this.routing = routing;
  }

  // ---- what observers read -------------------------------------------------------------

  get snapshot(): PoolSnapshot {
    // The arbiter moves the phase without telling the pool: a copy of another phase is stale.
    const phase = observedPhase(this.phase());
    if (this.published?.phase !== phase) this.published = this.publish(phase);
    return this.published;
  }

  private publish(phase: ObservedPhase): PoolSnapshot {
    const workers = [...this.workers.values()].sort((a, b) => a.age - b.age).map((w) => w.snapshot());
    return Object.freeze({
      phase, target: this.target, distribution: this.distribution,
      listeners: this.listeners.map((l) => l.url), workers, counts: this.counts(), restarts: { ...this.restarts }, balanced: this.balance.handedOver, degraded: this.degraded,
      lastFailure: this.lastFailure,
    });
  }

  /** Workers by state: the one count the snapshot publishes and the degraded-pool watch reads. */
  private counts(): PoolSnapshot['counts'] {
    const counts = { booting: 0, ready: 0, draining: 0 };
    for (const w of this.workers.values()) if (w.state !== 'exited') counts[w.state]++;
    return counts;
  }

  /** Workers taking new connections (round-robin, sticky, the Socket.IO relay). */
  readyWorkers(): WorkerHandle[] {
    return this.readyList;
  }

  /** Every worker not yet exited (the Socket.IO relay broadcasts to them). */
  liveWorkers(): IterableIterator<WorkerHandle> {
    return this.workers.values();
  }

  /** Asks every worker that serves or drains for its counters now; resolves when all answered or the timeout passed. */
  async refreshStats(timeoutMs: number): Promise<void> {
    const serving = [...this.workers.values()].filter((w) => w.state === 'ready' || w.state === 'draining');
    await Promise.all(serving.map((w) => w.requestReport(timeoutMs)));
  }

  /** A worker started with other Node flags than a new one would get (the heap of a smaller pool). */
  staleFlags(flags: string): WorkerHandle[] {
    return [...this.workers.values()].filter((w) => w.live && !w.retiring && w.nodeFlags !== flags);
  }

  // ---- what the arbiter asks ------------------------------------------------------------

  /** Marks workers for replacement, successors ready first (HUP, heap flags). */
  retire(workers: Iterable<WorkerHandle>, reason: RestartReason): void {
    for (const w of workers) w.retire(reason);
  }

  retireAll(reason: RestartReason): void {
    this.retire([...this.workers.values()], reason);
    // An operator's reload is a fresh start: a back-off from earlier failed boots does not delay it.
    this.nextSpawnAt = 0;
  }

  /** Stop every worker (the arbiter is stopping): drained (graceful) or SIGQUIT; killed at the limit; empty() once all are gone. */
  stop(graceful: boolean): void {
    this.changed();
    for (const w of this.workers.values()) {
      if (graceful) w.drain('shutdown', true, this.settings.graceful_timeout);
      else w.quit();
    }
    const limit = graceful ? this.settings.graceful_timeout * 1000 + 2000 : 2000;
    setTimeout(() => {
      for (const w of this.workers.values()) w.signal('SIGKILL');
      setTimeout(() => this.events.empty(), 500).unref();
    }, limit).unref();
    if (this.workers.size === 0) this.events.empty();
  }

  /** USR1: every worker reopens its log files. */
  signalAll(sig: NodeJS.Signals): void {
    for (const w of this.workers.values()) w.signal(sig);
  }

  // ---- the loop ------------------------------------------------------------------------

  /** Brings the pool in line with the target (policy.ts). Idempotent: safe to call at any time. */
  manage(): void {
    if (stopping(this.phase())) return;
    const now = Date.now();
    const actions = decide([...this.workers.values()].map((w) => w.facts()), {
      target: this.target, now, spawnAllowedAt: this.nextSpawnAt,
      timeoutMs: this.settings.timeout * 1000, maxMemory: this.settings.max_worker_memory,
    });
    for (const a of actions) {
      const w = a.do === 'spawn' ? null : this.workers.get(a.pid);
      if (a.do === 'spawn') for (let i = 0; i < a.count; i++) this.spawn();
      else if (!w) continue;
      else if (a.do === 'kill') {
        this.log.critical(`WORKER TIMEOUT (pid:${w.pid})`, { worker: w.pid });
        w.killHung();
      } else if (a.do === 'retire') {
        const mb = (n: number) => (n / 1e6).toFixed(1);
        this.log.warning(`Worker (pid:${w.pid}) uses ${mb(a.rss)} MB, over max_worker_memory ${mb(this.settings.max_worker_memory)} MB: replacing it`);
        w.retire(a.reason);
      } else w.drain(a.reason, false, this.settings.graceful_timeout);
    }
    this.watch(now);
    this.changed();
  }

  private changed(): void {
    this.readyList = [...this.workers.values()].filter((w) => w.state === 'ready' && w.child.connected);
    this.balance.run(this.readyList.length >= 2 && this.phase() !== 'booting' && !shuttingDown(this.phase()) && ConnectionBalance.applies(this.settings, this.distribution));
    this.published = null;
    this.events.changed();
  }

  /** The degraded-pool policy: WARNING while below target too long. */
  private watch(now: number): void {
    // Counted now, not read from the snapshot: the actions just taken may have drained a worker.
    const sample = { now, ready: this.counts().ready, desired: this.target, supervising: !shuttingDown(this.phase()) };
    const previous = this.poolWatch;
    const { watch, event } = watchPool(previous, sample, this.settings.degraded_after * 1000);
    this.poolWatch = watch;
    this.degraded = degradedDetail(watch, sample, this.lastFailure);
    const line = describePoolEvent(event, this.degraded, previous, sample.now);
    if (line && event === 'recovered') this.log.info(line);
    else if (line) this.log.warning(line);
  }

  private spawn(): WorkerHandle | null {
    const plans: ListenerPlan[] = [];
    const fds: number[] = [];
    for (const l of this.listeners) {
      const bound = { address: l.address, where: boundAddress(l), url: this.urlOf(l) };
      if (this.distribution === 'round-robin') plans.push({ kind: 'forwarded', ...bound });
      else if (this.distribution === 'reuseport' && l.tcp) plans.push({ kind: 'reuseport', host: l.tcp.host, port: l.tcp.port, ...bound });
      else {
        plans.push({ kind: 'inherited', fd: inheritedFd(fds.length), ...bound });
        fds.push(l.handle.fd);
      }
    }
    this.events.preFork(this.age + 1);
    const nodeFlags = this.spawnPlan.nodeFlags(this.target);
    // libuv reads UV_THREADPOOL_SIZE once, when the process first needs its pool.
    const uvPool = this.settings.uv_threadpool > 0 ? { UV_THREADPOOL_SIZE: String(this.settings.uv_threadpool) } : {};
    const child = spawnWorker({
      fds, env: { ...process.env, ...this.spawnPlan.env(), ...this.settings.raw_env, ...uvPool }, nodeFlags,
      title: this.settings.proc_name ?? this.app, ...this.spawnPlan.identity,
    });
    if (child.pid === undefined) {
      // The executable could not be started at all (its 'error' event says why): back off.
      child.once('error', (err) => this.log.error(`Cannot start a worker: ${err.message}`));
      if (this.phase() === 'booting') this.events.bootFailed('Cannot start a worker.', 1);
      else this.backOff();
      return null;
    }
    const worker = new WorkerHandle(child, ++this.age, nodeFlags.join(' '));
    this.routing?.track(worker);
    this.workers.set(worker.pid, worker);
    this.log.info(`Booting worker with pid: ${worker.pid}`, { worker: worker.pid });
    this.events.postFork(worker.snapshot());
    const jitter = this.settings.max_requests_jitter;
    const maxRequests = this.settings.max_requests > 0 ? this.settings.max_requests + Math.floor(Math.random() * (jitter + 1)) : 0;
    child.on('message', (m: WorkerMessage, handle: unknown) => this.onMessage(worker, m, handle));
    child.once('exit', (code, signal) => this.onExit(worker, code, signal));
    child.on('error', (err) => this.log.error(`Worker (pid:${worker.pid}): ${err.message}`));
    const settings = { ...this.settings };
    for (const { name } of HOOKS) delete (settings as Record<string, unknown>)[name];
    // Workers read the config file only for worker hooks (it may be readable by root alone).
    const workerHooks = WORKER_HOOKS.some((name) => this.settings[name as keyof Settings]);
    worker.send({
      t: 'boot', app: this.app, cwd: process.cwd(), settings, configFile: workerHooks ? this.configFile : null,
      age: worker.age, listeners: plans, maxRequests, heartbeatMs: heartbeatMs(this.settings),
      threads: this.settings.threads, threadHeapMb: this.settings.threads > 1 ? this.spawnPlan.threadHeapMb(this.target) : null,
    });
    return worker;
  }

  // ---- what the workers say ---------------------------------------------------------------

  private onMessage(worker: WorkerHandle, m: WorkerMessage, handle: unknown): void {
    worker.ping();
    // The app's own messages to its primary (Socket.IO's cluster adapter, @socket.io/sticky).
    if (m.t === undefined) {
      this.routing?.appMessage(worker, m);
      return;
    }
    switch (m.t) {
      case 'ready':
        if (!worker.ready()) return;
        this.log.debug(`Worker ready (pid: ${worker.pid})`, { worker: worker.pid });
        if (m.serving && m.serving !== this.serving) {
          this.serving = m.serving;
          this.log.info(`Serving ${this.app}: ${m.serving}`);
        }
        this.events.ready();
        this.manage();
        this.routing?.workerReady();
        return;
      case 'heartbeat': {
        const { t: _t, report, ...stats } = m;
        const previous = worker.beat(stats);
        this.published = null;
        // A worker started after the last failed start has stayed up: starts work again.
        if (this.bootFailures > 0 && worker.spawnedAt > this.lastFailureAt && Date.now() - worker.spawnedAt >= MIN_HEALTHY_LIFE_MS) {
          this.bootFailures = 0;
        }
        const view = worker.snapshot();
        for (const fn of this.onHeartbeat) fn(view, previous);
        if (report !== undefined) worker.reported(report);
        if (this.settings.max_worker_memory > 0 && stats.rss > this.settings.max_worker_memory && !stopping(this.phase())) this.manage();
        return;
      }
      case 'moved':
        if (handle) this.balance.moved(worker, handle as { close(): void }, m.served);
        return;
      case 'stopping':
        return this.onStopping(worker, m.cause);
      case 'retire':
        if (worker.state === 'ready' && worker.retire(m.reason)) this.manage();
        return;
      case 'boot-error':
        worker.failedBoot(m.message);
        return;
      case 'session':
        this.routing?.session(worker, m.sid, m.open);
        return;
      case 'listen':
        this.routing?.listen(worker, m.id, m.address);
        return;
      case 'listeners':
        return this.sendListenerCopies(worker, m.id);
      case 'thread-exit':
        this.log[m.reason === 'max_requests' ? 'info' : 'error'](m.message, { worker: worker.pid });
        if (m.reason !== 'max_requests') this.lastFailure = m.message.split('\n')[0]!;
        this.restarts[m.reason]++;
        this.published = null;
        return;
    }
  }

  /** --threads: a copy of each listening socket, for a thread of `worker` to accept on. */
  private sendListenerCopies(worker: WorkerHandle, id: number): void {
    const shared = this.listeners.filter((l) => !(this.distribution === 'reuseport' && l.tcp));
    if (shared.length === 0) return worker.send({ t: 'listener-copy', id, address: '', last: true });
    shared.forEach((l, i) => worker.send({ t: 'listener-copy', id, address: l.address, last: i === shared.length - 1 }, l.handle));
  }

  /**
   * The worker got TERM from outside (or the app closed the server it serves) and waits for
   * 'drain': it gets no new connection from now on, finishes what it has (idle keep-alive
   * connections too: their next request is answered with Connection: close), and a successor
   * starts at once, without back-off: this is no crash. While the master itself shuts down
   * (TERM to the whole process group), the worker serves on until the master's own drain.
   */
  private onStopping(worker: WorkerHandle, cause: 'signal' | 'app closed its server'): void {
    if (worker.state === 'exited') return;
    if (shuttingDown(this.phase()) && worker.state !== 'draining') return worker.send({ t: 'keep-serving' });
    // Already draining (recycled, scaled down): the drain is sent again, in case it crossed.
    if (worker.state !== 'draining') {
      const why = cause === 'signal' ? 'it received TERM from outside' : 'the app closed its server';
      this.log.info(`Worker (pid:${worker.pid}) is stopping: ${why}: draining it, a new worker replaces it`);
    }
    worker.drain(worker.stopping ?? 'signal', false, this.settings.graceful_timeout);
    this.manage();
  }

  private onExit(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const wasBooting = worker.state === 'booting';
    worker.exited();
    this.workers.delete(worker.pid);
    this.routing?.exited(worker);
    this.events.childExit(worker.snapshot());
    const how = signal ? `was sent ${signal}` : `exited with code ${code}`;
    if (stopping(this.phase())) {
      this.log.info(`Worker exiting (pid: ${worker.pid})`);
      this.published = null;
      if (this.workers.size === 0) this.events.empty();
      return;
    }
    const reason = worker.stopping;
    if (reason === null) {
      if (wasBooting && (worker.bootError || code === WORKER_BOOT_ERROR)) return this.onBootFailure(worker);
      // Killed from outside (the OOM killer, an operator) vs died of its own error (policy.ts).
      const lived = Date.now() - worker.spawnedAt;
      const exit = unplannedExit(worker.pid, code, signal, { wasBooting, livedMs: lived });
      this.log[exit.level](exit.message);
      this.lastFailure = exit.message;
      this.restarts[exit.reason]++;
      // A worker that keeps dying right after it starts must not become a fork loop.
      if (exit.backOff) {
        this.log.warning(`Worker (pid:${worker.pid}) died ${lived} ms after it started: next start in ${this.backOff() / 1000}s`);
      }
    } else if (reason === 'scale' || reason === 'shutdown') {
      this.log.info(`Worker exiting (pid: ${worker.pid})`);
    } else {
      this.log.info(`Worker (pid:${worker.pid}) ${how} (${reason})`);
      this.restarts[reason]++;
    }
    this.manage();
  }

  /** A worker died before it was ready: halt if no worker ever booted, else back off and retry. */
  private onBootFailure(worker: WorkerHandle): void {
    const message = worker.bootError ?? `worker exited with code ${WORKER_BOOT_ERROR}`;
    if (this.phase() === 'booting') {
      this.log.error(`Worker (pid:${worker.pid}) failed to boot: ${message}`);
      return this.events.bootFailed('Worker failed to boot.', WORKER_BOOT_ERROR);
    }
    const delay = this.backOff();
    this.lastFailure = `Worker (pid:${worker.pid}) failed to boot: ${message.split('\n')[0]}`;
    this.log.error(`Worker (pid:${worker.pid}) failed to boot: ${message}; retrying in ${delay / 1000}s`);
    this.manage();
  }

  /** Delays the next spawn after a failed start (policy.ts: backOffDelay). */
  private backOff(): number {
    this.bootFailures++;
    this.lastFailureAt = Date.now();
    const delay = backOffDelay(this.bootFailures);
    this.nextSpawnAt = Date.now() + delay;
    setTimeout(() => this.manage(), delay).unref();
    return delay;
  }
}

/**
 * How often workers send heartbeats and the master supervises: a quarter of --timeout, 0.1–1 s
 * (1 s with --timeout 0). Followed on HUP: the arbiter restarts its tick, new workers get it.
 */
export function heartbeatMs(settings: Pick<Settings, 'timeout'>): number {
  return Math.min(1000, Math.max(100, (settings.timeout * 1000) / 4 || 1000));
}
