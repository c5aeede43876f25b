// The master process, after Gunicorn's arbiter: it owns the listening sockets and the plan it
// serves (settings, pool size, heap, identity: config/plan.ts), and runs the pool of workers
// (pool.ts) through its lifecycle. Everything it does is one of:
//   - a signal, handled by the method named after it (handleHup, handleTtin, ...);
//   - the pool's own loop: Pool.manage(), run after each worker event and on a tick of a
//     quarter of --timeout, which carries out what the supervision policy decides (policy.ts);
//   - a move of its one phase (lifecycle.ts: booting -> starting -> running <-> reloading;
//     terminating -> stopping -> stopped), each a transition method of its own (below, "the
//     lifecycle"): the signals and the pool's events lead to them, nothing else sets the phase.
import { loadServerPlan, type PlanSource, type ServerPlan } from '../config/plan';
import type { Settings } from '../config/settings';
import { bindAll, closeAll, type Listener } from '../http/listeners';
import { peerMatcher } from '../http/forwarded';
import type { LogEvent, Logger } from '../log/logger';
import { COMPILE_CACHE_ENV } from '../platform/compile-cache';
import { within } from '../hook-call';
import type { WorkerStats } from '../ipc';
import { ExtraListeners } from './extra-listeners';
import { MasterHooks } from './hooks';
import { shuttingDown, stopping, type MasterPhase } from './lifecycle';
import { movePidfile, removePidfile, writePidfile } from './pidfile';
import { Pool, heartbeatMs, type PoolSnapshot, type Routing } from './pool';
import { RoundRobin } from './round-robin';
import { SocketIoRelay, isAppMessage } from './socketio/relay';
import { StickyRouter } from './socketio/sticky';
import { Upgrader } from './upgrade';
import type { WorkerSnapshot } from './worker-handle';

export interface ArbiterOptions {
  /** The app spec as given. */
  app: string;
  /** Where the master runs (after --chdir): a new master (USR2) starts here. */
  cwd: string;
  settings: Settings;
  plan: ServerPlan;
  /** Where the settings came from: read again on HUP. */
  source: PlanSource;
  configFile: string | null;
  log: Logger;
  version: string;
  /** Run once the listeners are bound, before any worker is spawned (boot log, admin server). */
  afterBind?: () => Promise<void>;
  /** systemd readiness (NOTIFY_SOCKET): READY=1, RELOADING=1, STOPPING=1. */
  notify?: (state: string) => void;
}

/** Settings a HUP cannot change in a running master (docs/operations.md says why). */
export const KEPT_ON_HUP = [
  'bind', 'distribution', 'sticky', 'admin_bind', 'user', 'group', 'control_socket', 'reload', 'reload_extra_files',
  // The master's syslog and StatsD clients are made once at boot; its workers' follow them.
  'log_syslog', 'log_syslog_to', 'log_syslog_facility', 'log_syslog_prefix', 'statsd_host', 'statsd_prefix', 'dogstatsd_tags',
] as const;

const SIGNALS = ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

export class Arbiter {
  settings: Settings;
  private plan: ServerPlan;
  private readonly pool: Pool;
  private listeners: Listener[] = [];
  private readonly log: Logger;
  private readonly hooks: MasterHooks;
  private roundRobin: RoundRobin | null = null;
  /** --sticky: which worker owns which Socket.IO session. */
  private readonly sticky: StickyRouter | null;
  private readonly socketIo: SocketIoRelay;
  /** The app's own extra servers, shared with the workers (extra-listeners.ts). */
  private readonly extra: ExtraListeners;
  /** The master's lifecycle (lifecycle.ts), changed only by the transitions under "the lifecycle". */
  private phase: MasterPhase = 'booting';
  /**
   * USR2's new master, while it runs. Not a phase: it runs beside this master whatever this
   * one's phase (reloading, terminating ...), and WINCH asks whether it does.
   */
  private upgrader: Upgrader | null = null;
  private tick: NodeJS.Timeout | null = null;
  private exitCode = 0;
  private stopped!: () => void;
  /** narwhal's version, as the boot line says it. */
  get version(): string {
    return this.options.version;
  }

  /** The master's last few WARNING-or-worse log lines (live views). */
  get recentEvents(): readonly LogEvent[] {
    return this.log.recent;
  }

  /** Listeners for changes of the pool (the admin server's readiness, tests). */
  readonly onChange: Array<() => void> = [];

  constructor(private readonly options: ArbiterOptions) {
    this.settings = options.settings;
    this.plan = options.plan;
    this.log = options.log;
    this.hooks = new MasterHooks(() => this.settings, () => this.pool.snapshot, this.log);
    this.pool = new Pool(options.app, this.plan.distribution, this.settings, this.plan.workers.count, {
      env: () => (this.plan.compileCache.dir ? { [COMPILE_CACHE_ENV]: this.plan.compileCache.dir } : {}),
      nodeFlags: (n) => this.plan.heap.flags(n),
      threadHeapMb: (n) => this.plan.heap.heapMb(n),
      identity: this.plan.identity,
    }, this.log, {
      changed: () => this.changed(),
      ready: () => this.workerReady(),
      preFork: (age) => void this.hooks.run('preFork', Object.freeze({ pid: undefined, age, state: 'booting' })),
      postFork: (w) => void this.hooks.run('postFork', MasterHooks.workerView(w)),
      childExit: (w) => void this.hooks.run('childExit', MasterHooks.workerView(w)),
      bootFailed: (reason, code) => this.halt(reason, code),
      empty: () => this.finish(),
    }, () => this.phase, options.configFile);
    this.sticky = this.settings.sticky ? new StickyRouter() : null;
    this.socketIo = new SocketIoRelay(() => this.pool.liveWorkers(), (w, sid, open) => this.sticky?.learned(w, sid, open));
    this.extra = new ExtraListeners(this.log, () => this.listeners.map((l) => this.url(l)).join(', '), this.plan.identity);
    this.pool.useRouting(this.routing());
  }

  /** What observers read: the pool's snapshot. */
  get snapshot(): PoolSnapshot {
    return this.pool.snapshot;
  }

  /** Listeners for each worker heartbeat, given the worker's previous stats (/metrics adds the difference). */
  get onHeartbeat(): Array<(worker: WorkerSnapshot, previous: WorkerStats) => void> {
    return this.pool.onHeartbeat;
  }

  /** Asks every worker that serves or drains for its counters now (a /metrics scrape). */
  refreshStats(timeoutMs: number): Promise<void> {
    return this.pool.refreshStats(timeoutMs);
  }

  /** The pool size the master keeps; the nworkersChanged hook sees every change. */
  get target(): number {
    return this.pool.target;
  }

  private set target(n: number) {
    const old = this.pool.target;
    this.pool.target = n;
    if (n !== old) void this.hooks.run('nworkersChanged', n, old);
  }

  /** A listener's URL as clients must use it: workers terminate TLS when certfile is set. */
  private url(l: Listener): string {
    return this.settings.certfile ? l.url.replace(/^http:/, 'https:') : l.url;
  }

  private routing(): Routing {
    return {
      track: (w) => this.roundRobin?.track(w),
      workerReady: () => this.roundRobin?.flush(),
      exited: (w) => this.sticky?.forget(w),
      appMessage: (w, m) => (isAppMessage(m) ? (this.socketIo.handle(w, m), true) : false),
      session: (w, sid, open) => this.sticky?.learned(w, sid, open),
      listen: (w, id, address) => void this.extra.share(w, id, address),
    };
  }

  /** Binds, boots the pool and supervises it; resolves with the exit code when the master stops. */
  async run(inherited?: Map<string, number>): Promise<number> {
    await this.hooks.run('onStarting');
    void this.hooks.run('nworkersChanged', this.target, null);
    this.listeners = await bindAll(this.settings.bind, inherited);
    this.pool.useListeners(this.listeners, (l) => this.url(l));
    this.log.info(`Starting narwhal ${this.options.version} (Node.js ${process.version})`);
    process.title = `narwhal: master [${this.settings.proc_name ?? this.options.app}]`;
    for (const l of this.listeners) this.log.info(`Listening at: ${this.url(l)} (${process.pid})`);
    this.log.info(`Using distribution: ${this.plan.distribution}${this.settings.distribution === 'auto' ? ' (auto)' : ''}`);
    await this.options.afterBind?.();
    if (this.settings.pid) writePidfile(this.settings.pid);
    if (this.plan.distribution === 'round-robin') {
      const trusted = peerMatcher(this.settings.forwarded_allow_ips);
      this.roundRobin = new RoundRobin(() => this.pool.readyWorkers(), this.log, () => this.settings, this.sticky && {
        router: this.sticky,
        preamble: (peer) => this.settings.proxy_protocol && trusted(peer),
        tls: Boolean(this.settings.certfile),
      });
      this.roundRobin.start(this.listeners, this.settings.backlog);
    }
    for (const sig of SIGNALS) process.on(sig, () => this.handleSignal(sig));
    const done = new Promise<void>((resolve) => { this.stopped = resolve; });
    this.pool.manage();
    this.startTick();
    await done;
    return this.exitCode;
  }

  /** The supervision tick follows --timeout (set again on HUP). */
  private startTick(): void {
    if (this.tick) clearInterval(this.tick);
    this.tick = setInterval(() => this.pool.manage(), heartbeatMs(this.settings));
  }

  /** The pool changed: the phase may move on (announce), then the observers look. */
  private changed(): void {
    this.announce();
    for (const fn of this.onChange) fn();
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

  /** Reload: the settings read again and a new plan, then every worker replaced one at a time, successor ready first. */
  async handleHup(): Promise<void> {
    if (stopping(this.phase)) return;
    this.options.notify?.('RELOADING=1');
    this.startReload();
    try {
      const next = await loadServerPlan(this.options.source);
      const old = this.settings;
      // Sockets, the admin server and the workers' identity stay as they are (rebinding would
      // refuse connections); everything else reloads. One line says what was not applied.
      const kept = KEPT_ON_HUP.filter((k) => JSON.stringify(next.settings[k]) !== JSON.stringify(old[k]));
      if (kept.length > 0) this.log.warning(`Reload: ${kept.join(', ')} changed, but HUP keeps ${kept.length > 1 ? 'them' : 'it'} as started; restart narwhal to apply`);
      this.settings = { ...next.settings, ...Object.fromEntries(KEPT_ON_HUP.map((k) => [k, old[k]])) } as Settings;
      // The distribution and the identity are kept with the sockets; heap and compile cache follow.
      this.plan = { ...next.plan, distribution: this.plan.distribution, identity: this.plan.identity };
      this.pool.configure(this.settings);
      this.log.configure(this.settings.log_level, this.settings.error_logfile, this.settings.log_format);
      if (old.pid !== this.settings.pid && !movePidfile(old.pid, this.settings.pid, this.log)) this.settings.pid = old.pid;
      if (old.timeout !== this.settings.timeout) this.startTick();
      this.target = next.plan.workers.count;
    } catch (err) {
      this.log.error(`Reload: keeping the current settings: ${(err as Error).message}`);
    }
    await this.hooks.run('onReload');
    this.pool.retireAll('reload');
    this.pool.manage();
  }

  handleTtin(): void {
    const refusal = this.plan.heap.refuse(this.target + 1);
    if (refusal) return this.log.warning(`TTIN refused: ${refusal}`);
    this.target++;
    // Workers started with other Node flags (a heap sized for the smaller pool) are replaced
    // one at a time, successor ready first, so the heaps together stay within the memory limit.
    const flags = this.plan.heap.flags(this.target).join(' ');
    const stale = this.pool.staleFlags(flags);
    if (stale.length > 0) this.log.info(`Pool of ${this.target}: replacing ${stale.length} worker(s) started with other Node flags (now: ${flags})`);
    this.pool.retire(stale, 'reload');
    this.pool.manage();
  }

  /** `narwhal ctl scale N`: TTIN or TTOU until the target is N; why not, when the pool cannot grow. */
  scaleTo(n: number): string | null {
    if (n > this.target) {
      const refusal = this.plan.heap.refuse(n);
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
    this.pool.manage();
  }

  /** Stop all workers gracefully, keep the master (and the sockets); TTIN or HUP bring them back. */
  handleWinch(): void {
    // After USR2 the sockets are the new master's too: this one stops accepting (round-robin
    // would otherwise hold connections for workers that are gone).
    if (this.upgrader?.running) this.handOverSockets();
    this.target = 0;
    this.pool.manage();
  }

  handleUsr1(): void {
    this.log.reopen();
    this.log.info('Reopened the log files');
    this.pool.signalAll('SIGUSR1');
  }

  /** Binary upgrade: a new master from the executable on disk, sharing the sockets (upgrade.ts). */
  handleUsr2(): void {
    if (stopping(this.phase)) return;
    void this.hooks.run('preExec');
    this.upgrader ??= new Upgrader(this.log);
    const pid = this.upgrader.start(this.listeners, this.settings.pid, this.options.cwd);
    // The new master owns unix socket paths now: this one must not unlink them when it stops.
    if (pid) this.listeners = this.listeners.map(({ unixPath: _, ...l }) => l);
  }

  private handOverSockets(): void {
    closeAll(this.listeners);
    this.listeners = [];
    this.pool.useListeners(this.listeners, (l) => this.url(l));
  }

  /** Graceful shutdown: in-flight requests finish, up to --graceful-timeout. */
  handleTerm(): void {
    if (shuttingDown(this.phase)) return;
    // Kubernetes: readiness turns 503 now; the pool serves on for --shutdown-delay while the
    // endpoints controller and load balancers stop sending, then drains.
    this.terminate();
    const delay = this.settings.shutdown_delay;
    if (delay <= 0) return this.stop(true);
    this.log.info(`Shutdown delay: serving ${delay}s more before draining`);
    setTimeout(() => this.stop(true), delay * 1000);
  }

  /** Quick shutdown. */
  handleInt(): void {
    this.stop(false);
  }

  // ---- the lifecycle: each change of phase (lifecycle.ts) is one of these --------------------

  /** booting -> starting: a worker is ready; a failed boot backs off from now on rather than halting. */
  private workerReady(): void {
    if (this.phase === 'booting') this.phase = 'starting';
  }

  /**
   * starting -> running once the whole first pool is ready: whenReady, READY=1.
   * reloading -> running once no worker is left that HUP replaces: READY=1 again.
   */
  private announce(): void {
    const pool = this.pool.snapshot;
    if (pool.counts.ready < pool.target || pool.target === 0) return;
    if (this.phase === 'starting') {
      this.phase = 'running';
      void this.hooks.run('whenReady');
      this.options.notify?.('READY=1');
    } else if (this.phase === 'reloading' && !pool.workers.some((w) => w.state !== 'draining' && w.state !== 'exited' && w.retiring === 'reload')) {
      this.phase = 'running';
      this.options.notify?.('READY=1');
    }
  }

  /** running -> reloading (HUP). Before READY=1 (booting, starting) the phase stays: its READY=1 is still to come. */
  private startReload(): void {
    if (this.phase === 'running') this.phase = 'reloading';
  }

  /** -> terminating (TERM): readiness turns 503; workers that stop on their own serve on until the drain. */
  private terminate(): void {
    this.phase = 'terminating';
    this.changed();
  }

  /** -> stopping: the sockets closed, the workers drained (graceful) or quit; a quick stop may follow a graceful one. */
  private stop(graceful: boolean): void {
    const already = stopping(this.phase);
    if (already && graceful) return;
    if (!already) {
      this.phase = 'stopping';
      this.options.notify?.('STOPPING=1');
    }
    if (this.tick) clearInterval(this.tick);
    // Stop accepting: the kernel refuses new connections once no process holds the socket.
    this.handOverSockets();
    this.pool.stop(graceful);
  }

  /** A failed first boot: stopping at once, with the exit code that says why. */
  private halt(reason: string, code: number): void {
    this.exitCode = code;
    this.log.info('Shutting down: Master');
    this.log.info(`Reason: ${reason}`);
    this.stop(false);
  }

  /** stopping -> stopped: the last worker is gone; onExit, then run() resolves. */
  private finish(): void {
    if (this.phase !== 'stopping') return;
    this.phase = 'stopped';
    if (this.exitCode === 0) this.log.info('Shutting down: Master');
    if (this.settings.pid) removePidfile(this.settings.pid);
    void this.extra.closeAll();
    for (const sig of SIGNALS) process.removeAllListeners(sig);
    void within(this.hooks.run('onExit'), this.settings.graceful_timeout * 1000).then(() => this.stopped());
  }
}
