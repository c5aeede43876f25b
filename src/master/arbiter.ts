// The master process, after Gunicorn's arbiter: it owns the listening sockets and a pool of
// workers, and keeps the pool at its target size. Everything it does is one of:
//   - a signal, handled by the method named after it (handleHup, handleTtin, ...);
//   - a worker event (ready, heartbeat, retire request, exit);
//   - manage(), run after each of those and on a timer, which compares the pool with the
//     target and spawns, retires or kills workers until they agree.
// Phases: booting (no worker ready yet) -> running -> stopping; a failed first boot halts.
import { SETTING_LIST, type ResolvedDistribution, type Settings } from '../config/settings';
import { bindAll, boundAddress, closeAll, type Listener } from '../http/listeners';
import type { Logger } from '../log/logger';
import type { WorkerIdentity } from '../platform/users';
import { WORKER_BOOT_ERROR, type ListenerPlan, type WorkerMessage, type WorkerStats } from '../protocol';
import { HEALTHY, degradedDetail, describePoolEvent, watchPool, type DegradedDetail, type PoolWatch } from './degraded';
import { within } from '../hooks';
import { MasterHooks, workerView } from './hooks';
import { movePidfile, removePidfile, writePidfile } from './pidfile';
import { ExtraListeners } from './extra-listeners';
import { RoundRobin } from './round-robin';
import { SocketIoRelay, isAppMessage } from './socketio-relay';
import { StickyRouter } from './sticky';
import { peerMatcher } from '../http/forwarded';
import { inheritedFd, spawnWorker } from './spawn';
import { Upgrader } from './upgrade';
import { MIN_HEALTHY_LIFE_MS, unplannedExit } from './worker-exit';
import { RESTART_REASONS, WorkerHandle, type RestartReason } from './worker-handle';

export type Phase = 'booting' | 'running' | 'stopping';

export interface ArbiterOptions {
  app: string;
  cwd: string;
  settings: Settings;
  /** distribution with `auto` resolved (the plan's); kept on HUP, as distribution and sticky are. */
  distribution: ResolvedDistribution;
  /** Pool size with workers=auto already resolved. */
  workers: number;
  log: Logger;
  version: string;
  /** Re-reads the config file and environment (HUP); resolves to the new settings. */
  reloadSettings: () => Promise<{ settings: Settings; workers: number }>;
  /** -u/-g: the identity workers run as. */
  workerIdentity?: WorkerIdentity;
  /** Extra Node flags for workers (heap sizing), from the container facts. */
  workerNodeFlags?: (workers: number) => string[];
  /** Environment variables for workers beyond the master's own and raw_env (the compile cache). */
  workerEnv?: () => NodeJS.ProcessEnv;
  /** Why a pool of this many workers would not fit the container (TTIN is refused), or null. */
  canGrow?: (workers: number) => string | null;
  /** Run once the listeners are bound, before any worker is spawned (boot log, admin server). */
  afterBind?: () => Promise<void>;
  /** The config file, which workers read for their hooks. */
  configFile?: string | null;
  /** systemd readiness (NOTIFY_SOCKET): READY=1, RELOADING=1, STOPPING=1. */
  notify?: (state: string) => void;
}

/** Settings a HUP cannot change in a running master (docs/operations.md says why). */
export const KEPT_ON_HUP = ['bind', 'distribution', 'sticky', 'admin_bind', 'user', 'group', 'control_socket', 'reload', 'reload_extra_files'] as const;
/** Hooks are functions: workers load theirs from the config file themselves. */
const HOOKS = SETTING_LIST.filter((s) => s.hook);
const WORKER_HOOKS = HOOKS.filter((s) => s.hook?.where === 'worker').map((s) => s.name);

const SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
const MAX_BACKOFF_MS = 30_000;

export class Arbiter {
  phase: Phase = 'booting';
  settings: Settings;
  readonly distribution: ResolvedDistribution;
  private poolTarget: number;
  listeners: Listener[] = [];
  readonly workers = new Map<number, WorkerHandle>();
  readonly restarts: Record<RestartReason, number> = Object.fromEntries(RESTART_REASONS.map((r) => [r, 0])) as Record<RestartReason, number>;
  private readonly log: Logger;
  private roundRobin: RoundRobin | null = null;
  private upgrader: Upgrader | null = null;
  private everReady = false;
  private age = 0;
  private bootFailures = 0;
  private nextSpawnAt = 0;
  private lastFailureAt = 0;
  private tick: NodeJS.Timeout | null = null;
  private exitCode = 0;
  private stopped!: () => void;
  /** Listeners for state changes (the admin server's readiness, tests). */
  readonly onChange: Array<() => void> = [];
  /** Listeners for each worker heartbeat, given the worker's previous stats (metrics). */
  readonly onHeartbeat: Array<(worker: WorkerHandle, previous: WorkerStats) => void> = [];
  /** Set on TERM: readiness turns 503 at once, the pool keeps serving for --shutdown-delay. */
  terminating = false;
  /** The Node flags each worker was started with (heap size for the pool size of the time). */
  private readonly nodeFlagsOf = new WeakMap<WorkerHandle, string>();
  /** Below target for longer than --degraded-after (degraded.ts); null while healthy. */
  degraded: DegradedDetail | null = null;
  private poolWatch: PoolWatch = HEALTHY;
  /** The last worker exit or failed boot nobody asked for, for the degraded detail. */
  private lastFailure: string | null = null;
  /** The app's own extra servers, shared with the workers (extra-listeners.ts). */
  private readonly extra: ExtraListeners;
  /** How the workers serve the app, as they last reported it: logged when it changes. */
  private serving = '';
  /** --sticky: which worker owns which Socket.IO session. */
  private readonly sticky: StickyRouter | null;
  private readonly socketIo: SocketIoRelay;
  private readonly hooks: MasterHooks;
  /** whenReady has run (and READY=1 was sent); a reload is waiting for its last replacement. */
  private announcedReady = false;
  private reloading = false;
  private finishing = false;

  constructor(private readonly options: ArbiterOptions) {
    this.settings = options.settings;
    this.distribution = options.distribution;
    this.poolTarget = options.workers;
    this.log = options.log;
    this.sticky = this.settings.sticky ? new StickyRouter() : null;
    this.socketIo = new SocketIoRelay(() => this.workers.values(), (w, sid, open) => this.sticky?.learned(w, sid, open));
    this.extra = new ExtraListeners(this.log, () => this.listeners.map((l) => this.url(l)).join(', '), options.workerIdentity);
    this.hooks = new MasterHooks(this, this.log);
  }

  /** A listener's URL as clients must use it: workers terminate TLS when certfile is set. */
  private url(l: Listener): string {
    return this.settings.certfile ? l.url.replace(/^http:/, 'https:') : l.url;
  }

  /** The pool size the master keeps; the nworkersChanged hook sees every change. */
  get target(): number {
    return this.poolTarget;
  }

  set target(n: number) {
    const old = this.poolTarget;
    this.poolTarget = n;
    if (n !== old) void this.hooks.run('nworkersChanged', n, old);
  }

  /** Binds, boots the pool and supervises it; resolves with the exit code when the master stops. */
  async run(inherited?: Map<string, number>): Promise<number> {
    await this.hooks.run('onStarting');
    void this.hooks.run('nworkersChanged', this.target, null);
    this.listeners = await bindAll(this.settings.bind, inherited);
    this.log.info(`Starting narwhal ${this.options.version} (Node.js ${process.version})`);
    process.title = `narwhal: master [${this.settings.proc_name ?? this.options.app}]`;
    for (const l of this.listeners) this.log.info(`Listening at: ${this.url(l)} (${process.pid})`);
    this.log.info(`Using distribution: ${this.distribution}${this.settings.distribution === 'auto' ? ' (auto)' : ''}`);
    await this.options.afterBind?.();
    if (this.settings.pid) writePidfile(this.settings.pid);
    if (this.distribution === 'round-robin') {
      const trusted = peerMatcher(this.settings.forwarded_allow_ips);
      this.roundRobin = new RoundRobin(() => this.readyWorkers(), this.log, () => this.settings, this.sticky && {
        router: this.sticky,
        preamble: (peer) => this.settings.proxy_protocol && trusted(peer),
        tls: Boolean(this.settings.certfile),
      });
      this.roundRobin.start(this.listeners, this.settings.backlog);
    }
    for (const sig of SIGNALS) process.on(sig, () => this.handleSignal(sig));
    const done = new Promise<void>((resolve) => { this.stopped = resolve; });
    this.manage();
    this.tick = setInterval(() => this.manage(), this.heartbeatMs());
    await done;
    return this.exitCode;
  }

  /** Workers taking new connections; kept up to date by changed(), read on every connection. */
  private ready: WorkerHandle[] = [];

  readyWorkers(): WorkerHandle[] {
    return this.ready;
  }

  private heartbeatMs(): number {
    return Math.min(1000, Math.max(100, (this.settings.timeout * 1000) / 4 || 1000));
  }

  private changed(): void {
    this.ready = [...this.workers.values()].filter((w) => w.state === 'ready' && w.child.connected);
    this.announce();
    for (const fn of this.onChange) fn();
  }

  /** whenReady and READY=1 once the whole first pool is ready; READY=1 again when a reload is done. */
  private announce(): void {
    if (this.phase !== 'running' || this.ready.length < this.target || this.target === 0) return;
    if (!this.announcedReady) {
      this.announcedReady = true;
      void this.hooks.run('whenReady');
      this.options.notify?.('READY=1');
    } else if (this.reloading && ![...this.workers.values()].some((w) => w.live && w.retireReason === 'reload')) {
      this.reloading = false;
      this.options.notify?.('READY=1');
    }
  }

  // ---- the pool ---------------------------------------------------------------------------

  /** Brings the pool in line with the target. Idempotent: safe to call at any time. */
  manage(): void {
    if (this.phase === 'stopping') return;
    this.killTimedOut();
    const live = [...this.workers.values()].filter((w) => w.live);
    const retiring = live.filter((w) => w.retireReason);
    const fresh = live.filter((w) => !w.retireReason);
    const freshReady = fresh.filter((w) => w.state === 'ready').length;
    // Replace retiring workers one at a time, keeping ready capacity at the target.
    let ready = freshReady + retiring.filter((w) => w.state === 'ready').length;
    for (const old of retiring.sort((a, b) => a.age - b.age)) {
      if (old.state === 'booting' || ready - 1 >= this.target) {
        if (old.state === 'ready') ready--;
        old.drain(old.retireReason!, false, this.settings.graceful_timeout);
      }
    }
    const booting = fresh.filter((w) => w.state === 'booting').length;
    if (fresh.length < this.target && Date.now() >= this.nextSpawnAt) {
      const wanted = retiring.length > 0 ? Math.min(1 - booting, this.target - fresh.length) : this.target - fresh.length;
      for (let i = 0; i < wanted; i++) this.spawn();
    } else if (fresh.length > this.target) {
      // Scale down: the oldest go first (as Gunicorn's TTOU does).
      const extra = fresh.sort((a, b) => a.age - b.age).slice(0, fresh.length - this.target);
      for (const w of extra) w.drain('scale', false, this.settings.graceful_timeout);
    }
    this.watchPool();
    this.changed();
  }

  /** The degraded-pool policy (degraded.ts): WARNING while below target too long. */
  private watchPool(): void {
    const sample = {
      now: Date.now(), ready: [...this.workers.values()].filter((w) => w.state === 'ready').length,
      desired: this.target, supervising: !this.terminating,
    };
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
    this.listeners.forEach((l) => {
      const mode = this.distribution;
      const bound = { address: l.address, where: boundAddress(l), url: this.url(l) };
      if (mode === 'round-robin') plans.push({ kind: 'forwarded', ...bound });
      else if (mode === 'reuseport' && l.tcp) plans.push({ kind: 'reuseport', host: l.tcp.host, port: l.tcp.port, ...bound });
      else {
        plans.push({ kind: 'inherited', fd: inheritedFd(fds.length), ...bound });
        fds.push(l.handle.fd);
      }
    });
    void this.hooks.run('preFork', Object.freeze({ pid: undefined, age: this.age + 1, state: 'booting' }));
    const child = spawnWorker({
      fds, env: { ...process.env, ...this.options.workerEnv?.(), ...this.settings.raw_env }, nodeFlags: this.options.workerNodeFlags?.(this.target) ?? [],
      title: this.settings.proc_name ?? this.options.app,
      ...this.options.workerIdentity,
    });
    if (child.pid === undefined) {
      // The executable could not be started at all (its 'error' event says why): back off.
      child.once('error', (err) => this.log.error(`Cannot start a worker: ${err.message}`));
      if (!this.everReady) this.halt('Cannot start a worker.', 1);
      else this.backOff();
      return null;
    }
    const worker = new WorkerHandle(child, ++this.age);
    this.roundRobin?.track(worker);
    this.nodeFlagsOf.set(worker, this.workerFlags());
    this.workers.set(worker.pid, worker);
    this.log.info(`Booting worker with pid: ${worker.pid}`, { worker: worker.pid });
    void this.hooks.run('postFork', workerView(worker));
    const jitter = this.settings.max_requests_jitter;
    const maxRequests = this.settings.max_requests > 0
      ? this.settings.max_requests + Math.floor(Math.random() * (jitter + 1)) : 0;
    child.on('message', (m: WorkerMessage) => this.onWorkerMessage(worker, m));
    child.once('exit', (code, signal) => this.onWorkerExit(worker, code, signal));
    child.on('error', (err) => this.log.error(`Worker (pid:${worker.pid}): ${err.message}`));
    const settings = { ...this.settings };
    for (const { name } of HOOKS) delete (settings as Record<string, unknown>)[name];
    // Workers read the config file only for worker hooks (it may be readable by root alone).
    const workerHooks = WORKER_HOOKS.some((name) => this.settings[name as keyof Settings]);
    worker.send({
      t: 'boot', app: this.options.app, cwd: process.cwd(), settings, configFile: workerHooks ? this.options.configFile ?? null : null,
      age: worker.age, listeners: plans, maxRequests, heartbeatMs: this.heartbeatMs(),
    });
    return worker;
  }

  private killTimedOut(): void {
    const timeoutMs = this.settings.timeout * 1000;
    if (timeoutMs <= 0) return;
    const now = Date.now();
    for (const w of this.workers.values()) {
      if (w.state === 'exited' || now - w.lastHeartbeat <= timeoutMs || w.stopReason === 'timeout') continue;
      this.log.critical(`WORKER TIMEOUT (pid:${w.pid})`, { worker: w.pid });
      w.stopReason = 'timeout';
      w.signal('SIGKILL');
    }
  }

  private onWorkerMessage(worker: WorkerHandle, m: WorkerMessage): void {
    worker.lastHeartbeat = Date.now();
    // The app's own messages to its primary (Socket.IO's cluster adapter, @socket.io/sticky).
    if (m.t === undefined && isAppMessage(m)) return this.socketIo.handle(worker, m);
    switch (m.t) {
      case 'ready':
        if (worker.state !== 'booting') return;
        worker.state = 'ready';
        this.log.debug(`Worker ready (pid: ${worker.pid})`, { worker: worker.pid });
        if (m.serving && m.serving !== this.serving) {
          this.serving = m.serving;
          this.log.info(`Serving ${this.options.app}: ${m.serving}`);
        }
        this.everReady = true;
        if (this.phase === 'booting') this.phase = 'running';
        this.manage();
        this.roundRobin?.flush();
        return;
      case 'heartbeat': {
        const { t: _t, report, ...stats } = m;
        const previous = worker.stats;
        worker.stats = stats;
        // A worker started after the last failed start has stayed up: starts work again.
        if (this.bootFailures > 0 && worker.spawnedAt > this.lastFailureAt && Date.now() - worker.spawnedAt >= MIN_HEALTHY_LIFE_MS) {
          this.bootFailures = 0;
        }
        for (const fn of this.onHeartbeat) fn(worker, previous);
        if (report !== undefined) worker.reported(report);
        this.checkMemory(worker);
        return;
      }
      case 'stopping':
        return this.onWorkerStopping(worker, m.cause);
      case 'retire':
        if (worker.state === 'ready' && !worker.retireReason) {
          worker.retireReason = m.reason;
          this.manage();
        }
        return;
      case 'boot-error':
        worker.bootError = m.message;
        return;
      case 'session':
        this.sticky?.learned(worker, m.sid, m.open);
        return;
      case 'listen':
        void this.extra.share(worker, m.id, m.address);
        return;
    }
  }

  /**
   * The worker got TERM from outside (or the app closed the server it serves) and waits for
   * 'drain': it gets no new connection from now on, finishes what it has (idle keep-alive
   * connections too: their next request is answered with Connection: close), and a successor
   * starts at once, without back-off: this is no crash. While the master itself shuts down
   * (TERM to the whole process group), the worker serves on until the master's own drain.
   */
  private onWorkerStopping(worker: WorkerHandle, cause: 'signal' | 'app closed its server'): void {
    if (worker.state === 'exited') return;
    if ((this.terminating || this.phase === 'stopping') && worker.state !== 'draining') return worker.send({ t: 'keep-serving' });
    // Already draining (recycled, scaled down): the drain is sent again, in case it crossed.
    if (worker.state !== 'draining') {
      const why = cause === 'signal' ? 'it received TERM from outside' : 'the app closed its server';
      this.log.info(`Worker (pid:${worker.pid}) is stopping: ${why}: draining it, a new worker replaces it`);
    }
    worker.drain(worker.stopReason ?? 'signal', false, this.settings.graceful_timeout);
    this.manage();
  }

  /** --max-worker-memory: a worker over it is replaced gracefully, its successor ready first. */
  private checkMemory(worker: WorkerHandle): void {
    const max = this.settings.max_worker_memory;
    if (max <= 0 || worker.stats.rss <= max || worker.state !== 'ready' || worker.retireReason || this.phase === 'stopping') return;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    this.log.warning(`Worker (pid:${worker.pid}) uses ${mb(worker.stats.rss)} MB, over max_worker_memory ${mb(max)} MB: replacing it`);
    worker.retireReason = 'memory';
    this.manage();
  }

  private workerFlags(): string {
    return (this.options.workerNodeFlags?.(this.target) ?? []).join(' ');
  }

  private onWorkerExit(worker: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const wasBooting = worker.state === 'booting';
    worker.exited();
    this.workers.delete(worker.pid);
    this.sticky?.forget(worker);
    void this.hooks.run('childExit', workerView(worker));
    const how = signal ? `was sent ${signal}` : `exited with code ${code}`;
    if (this.phase === 'stopping') {
      this.log.info(`Worker exiting (pid: ${worker.pid})`);
      if (this.workers.size === 0) this.finish();
      return;
    }
    const reason = worker.stopReason;
    if (reason === null) {
      if (wasBooting && (worker.bootError || code === WORKER_BOOT_ERROR)) return this.onBootFailure(worker);
      // Killed from outside (the OOM killer, an operator) vs died of its own error (worker-exit.ts).
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
    if (!this.everReady) {
      this.log.error(`Worker (pid:${worker.pid}) failed to boot: ${message}`);
      return this.halt('Worker failed to boot.', WORKER_BOOT_ERROR);
    }
    const delay = this.backOff();
    this.lastFailure = `Worker (pid:${worker.pid}) failed to boot: ${message.split('\n')[0]}`;
    this.log.error(`Worker (pid:${worker.pid}) failed to boot: ${message}; retrying in ${delay / 1000}s`);
    this.manage();
  }

  /** Delays the next spawn exponentially (1 s, 2 s, 4 s … 30 s) after each failed start. */
  private backOff(): number {
    this.bootFailures++;
    this.lastFailureAt = Date.now();
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.bootFailures - 1));
    this.nextSpawnAt = Date.now() + delay;
    setTimeout(() => this.manage(), delay).unref();
    return delay;
  }

  // ---- signals ----------------------------------------------------------------------------

  private handleSignal(sig: (typeof SIGNALS)[number]): void {
    this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`, { signal: sig });
    const handlers: Record<(typeof SIGNALS)[number], () => void> = {
      SIGHUP: () => void this.handleHup(),
      SIGTERM: () => this.handleTerm(),
      SIGINT: () => this.handleInt(),
      SIGQUIT: () => this.handleInt(),
      SIGTTIN: () => this.handleTtin(),
      SIGTTOU: () => this.handleTtou(),
      SIGUSR1: () => this.handleUsr1(),
      SIGUSR2: () => this.handleUsr2(),
      SIGWINCH: () => this.handleWinch(),
    };
    handlers[sig]();
  }

  /** Reload: new settings, then every worker replaced one at a time, successor ready first. */
  async handleHup(): Promise<void> {
    if (this.phase === 'stopping') return;
    this.options.notify?.('RELOADING=1');
    this.reloading = this.announcedReady;
    try {
      const next = await this.options.reloadSettings();
      const old = this.settings;
      // Sockets, the admin server and the workers' identity stay as they are (rebinding would
      // refuse connections); everything else reloads. One line says what was not applied.
      const kept = KEPT_ON_HUP.filter((k) => JSON.stringify(next.settings[k]) !== JSON.stringify(old[k]));
      if (kept.length > 0) this.log.warning(`Reload: ${kept.join(', ')} changed, but HUP keeps ${kept.length > 1 ? 'them' : 'it'} as started; restart narwhal to apply`);
      this.settings = { ...next.settings, ...Object.fromEntries(KEPT_ON_HUP.map((k) => [k, old[k]])) } as Settings;
      this.log.configure(this.settings.log_level, this.settings.error_logfile, this.settings.log_format);
      if (old.pid !== this.settings.pid && !movePidfile(old.pid, this.settings.pid, this.log)) this.settings.pid = old.pid;
      this.target = next.workers;
    } catch (err) {
      this.log.error(`Reload: keeping the current settings: ${(err as Error).message}`);
    }
    await this.hooks.run('onReload');
    // An operator's reload is a fresh start: a back-off from earlier failed boots does not delay it.
    this.nextSpawnAt = 0;
    for (const w of this.workers.values()) if (w.live && !w.retireReason) w.retireReason = 'reload';
    this.manage();
  }

  handleTtin(): void {
    const refusal = this.options.canGrow?.(this.target + 1);
    if (refusal) return this.log.warning(`TTIN refused: ${refusal}`);
    this.target++;
    // Workers started with other Node flags (a heap sized for the smaller pool) are replaced
    // one at a time, successor ready first, so the heaps together stay within the memory limit.
    const flags = this.workerFlags();
    const stale = [...this.workers.values()].filter((w) => w.live && !w.retireReason && this.nodeFlagsOf.get(w) !== flags);
    if (stale.length > 0) this.log.info(`Pool of ${this.target}: replacing ${stale.length} worker(s) started with other Node flags (now: ${flags})`);
    for (const w of stale) w.retireReason = 'reload';
    this.manage();
  }

  /** `narwhal ctl scale N`: TTIN or TTOU until the target is N; why not, when the pool cannot grow. */
  scaleTo(n: number): string | null {
    if (n > this.target) {
      const refusal = this.options.canGrow?.(n);
      if (refusal) return refusal;
    }
    while (this.target < n) {
      const before = this.target;
      this.handleTtin();
      if (this.target === before) break;
    }
    while (this.target > Math.max(1, n)) this.handleTtou();
    return null;
  }

  handleTtou(): void {
    if (this.target <= 1) return;
    this.target--;
    this.manage();
  }

  /** Stop all workers gracefully, keep the master (and the sockets); TTIN or HUP bring them back. */
  handleWinch(): void {
    // After USR2 the sockets are the new master's too: this one stops accepting (round-robin
    // would otherwise hold connections for workers that are gone).
    if (this.upgrader?.running) this.handOverSockets();
    this.target = 0;
    this.manage();
  }

  handleUsr1(): void {
    this.log.reopen();
    this.log.info('Reopened the log files');
    for (const w of this.workers.values()) w.signal('SIGUSR1');
  }

  /** Binary upgrade: a new master from the executable on disk, sharing the sockets (upgrade.ts). */
  handleUsr2(): void {
    if (this.phase === 'stopping') return;
    void this.hooks.run('preExec');
    this.upgrader ??= new Upgrader(this.log);
    const pid = this.upgrader.start(this.listeners, this.settings.pid, this.options.cwd);
    // The new master owns unix socket paths now: this one must not unlink them when it stops.
    if (pid) this.listeners = this.listeners.map(({ unixPath: _, ...l }) => l);
  }

  private handOverSockets(): void {
    closeAll(this.listeners);
    this.listeners = [];
  }

  /** Graceful shutdown: in-flight requests finish, up to --graceful-timeout. */
  handleTerm(): void {
    if (this.terminating || this.phase === 'stopping') return;
    // Kubernetes: readiness turns 503 now; the pool serves on for --shutdown-delay while the
    // endpoints controller and load balancers stop sending, then drains.
    this.terminating = true;
    this.changed();
    const delay = this.settings.shutdown_delay;
    if (delay <= 0) return this.stop(true);
    this.log.info(`Shutdown delay: serving ${delay}s more before draining`);
    setTimeout(() => this.stop(true), delay * 1000);
  }

  /** Quick shutdown. */
  handleInt(): void {
    this.stop(false);
  }

  stop(graceful: boolean): void {
    if (this.phase === 'stopping' && graceful) return;
    if (this.phase !== 'stopping') this.options.notify?.('STOPPING=1');
    this.phase = 'stopping';
    this.changed();
    if (this.tick) clearInterval(this.tick);
    // Stop accepting: the kernel refuses new connections once no process holds the socket.
    closeAll(this.listeners);
    this.listeners = [];
    for (const w of this.workers.values()) {
      if (graceful) w.drain('shutdown', true, this.settings.graceful_timeout);
      else {
        w.stopReason = 'shutdown';
        w.signal('SIGQUIT');
      }
    }
    const limit = graceful ? this.settings.graceful_timeout * 1000 + 2000 : 2000;
    setTimeout(() => {
      for (const w of this.workers.values()) w.signal('SIGKILL');
      setTimeout(() => this.finish(), 500).unref();
    }, limit).unref();
    if (this.workers.size === 0) this.finish();
  }

  private halt(reason: string, code: number): void {
    this.exitCode = code;
    this.log.info('Shutting down: Master');
    this.log.info(`Reason: ${reason}`);
    this.stop(false);
  }

  private finish(): void {
    if (this.phase !== 'stopping' || this.finishing) return;
    this.finishing = true;
    if (this.exitCode === 0) this.log.info('Shutting down: Master');
    if (this.settings.pid) removePidfile(this.settings.pid);
    void this.extra.closeAll();
    for (const sig of SIGNALS) process.removeAllListeners(sig);
    void within(this.hooks.run('onExit'), this.settings.graceful_timeout * 1000).then(() => this.stopped());
  }
}
