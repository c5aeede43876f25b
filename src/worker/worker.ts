// A worker process, as one object: it boots on the master's boot message, loads the app (adopting
// the server the app listens on, or serving what it exports), serves the connections the master
// planned for it through the request gate, beats its heart, and stops gracefully when the master
// says so, on TERM, or when it has served max-requests. The master's WorkerHandle is its other side.
// With --threads the same object runs in each thread of the process, answering to the process's
// own loop (link.ts) instead of the master; the process's own loop supervises them (threads/).
import { ConfigError } from '../config/errors';
import { WORKER_BOOT_ERROR, type BootMessage, type MasterMessage, type WorkerMessage } from '../ipc';
import { TlsError, loadTls, type TlsConfig } from '../http/tls';
import { AccessLog } from '../log/access-log';
import { attachCollectors } from '../log/collectors';
import type { Statsd } from '../log/statsd';
import { Logger } from '../log/logger';
import { compileCacheDir, flushCompileCache } from '../platform/compile-cache';
import { missingInternals, unsupportedNode } from '../platform/node';
import { Adoption } from './adopt';
import { presentAsClusterWorker } from './cluster-worker';
import { ConnectionFeed } from './deliver';
import { startHeartbeat } from './heartbeat';
import { WorkerHooks } from './hooks';
import { servedProtocols, type ServedProtocols } from './http-versions';
import { newCounters, type HttpCounters } from './instrument/counters';
import { failRequest } from './instrument/fail-request';
import { RequestGate } from './instrument/request-gate';
import { AppLoadError, loadApp, type LoadedApp } from './load-app';
import { ProcessLink, type SupervisorLink } from './link';
import { MasterLink } from './master-link';
import { AppSignals, WorkerShutdown } from './shutdown';
import { EngineIoSessions } from './socketio/sessions';
import { threadUnsafeAddon } from './threads/addons';
import { shimProcessForThread } from './threads/process-shims';
import { ThreadGroup } from './threads/group';

/** How long a worker stopped from outside waits for the master's drain before draining anyway. */
const STOPPING_ANSWER_MS = 2000;

type QuickHook = 'workerInt' | 'workerAbort';

/** What the worker has from the master's boot message on (start()). */
interface Booted {
  readonly boot: BootMessage;
  readonly log: Logger;
  /** --statsd-host: this event loop's own client (each thread has one). */
  readonly statsd: Statsd | null;
  readonly counters: HttpCounters;
  readonly heart: ReturnType<typeof startHeartbeat>;
  readonly master: MasterLink;
  readonly adoption: Adoption;
}

/** What loading the app adds (load()). */
interface Loaded {
  readonly app: LoadedApp;
  readonly hooks: WorkerHooks;
  readonly tlsFiles: TlsConfig | null;
  readonly protocols: ServedProtocols;
}

export class Worker {
  /** Set once the app is served: until then a stop signal just ends the worker. */
  private shutdown: WorkerShutdown | null = null;
  /** Stopped from outside (a signal) or by the app closing its server: the master is told once. */
  private stopRequested = false;
  /** reliability: the fallback drain, cancelled when the master says to keep serving. */
  private stoppingFallback: NodeJS.Timeout | null = null;
  /** Set once the app is served: where the master's connections go. */
  private feed: ConnectionFeed | null = null;
  private retiring = false;
  private readonly signals: AppSignals;
  /** INT/QUIT (quick) and ABRT: exit; once the hooks are loaded, after workerInt/workerAbort. */
  private quickExit: (hook: QuickHook, code: number) => void = (_hook, code) => process.exit(code);
  /** --threads: the other event loops of this process (its own loop only). */
  private threads: ThreadGroup | null = null;
  /** USR1 (a thread: the process's `reopen`): reopen the log files; set once they are open. */
  private reopenLogs: () => void = () => {};

  /** The process-wide handlers, in place before the boot message can arrive. */
  constructor(private readonly link: SupervisorLink = new ProcessLink()) {
    this.signals = new AppSignals(() => this.stopFromOutside());
    // A thread gets no signals and has no IPC channel of its own: the process's loop has both.
    if (link.thread > 0) return;
    // The master going away, even by SIGKILL, closes the IPC channel: never outlive it.
    process.on('disconnect', () => process.exit(0));
    for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, () => this.quickExit('workerInt', 0));
    process.on('SIGABRT', () => this.quickExit('workerAbort', 1));
    // HUP, USR1, USR2 and WINCH are the master's; a worker must not die of them.
    for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(sig, () => {});
  }

  /** The whole life: boot, load the app, serve (stopping is driven by messages and signals). */
  async run(): Promise<void> {
    const booted = this.start(await this.link.boot());
    if (!booted) return;
    const loaded = await this.load(booted);
    if (!loaded) return;
    await this.serve(booted, loaded);
  }

  /** TERM from outside (an operator, a supervisor). */
  private stopFromOutside(): void {
    // reliability: before the app is served, by the signal itself, so that the master sees
    // who stopped it (a TERM from outside, replaced at once) rather than a code-0 exit (a crash).
    if (!this.shutdown) return void (process.removeAllListeners('SIGTERM'), process.kill(process.pid, 'SIGTERM'));
    // The master stops routing to this worker first, then asks it to drain; without a master
    // to ask, drain now.
    if (this.shutdown.started || this.stopRequested) return;
    this.stopRequested = true;
    if (!this.link.connected) return void this.shutdown.stop(false);
    this.send({ t: 'stopping', cause: 'signal' });
    // A master that does not answer (an older one, a busy one) does not keep the worker up.
    this.stoppingFallback = setTimeout(() => void this.shutdown?.stop(false), STOPPING_ANSWER_MS).unref();
  }

  /** The boot message: checks, heartbeat, logs, the master's messages, adoption installed. Null: boot failed. */
  private send(message: WorkerMessage): void {
    this.link.send(message);
  }

  private bootFailed(message: string): void {
    this.send({ t: 'boot-error', message });
    process.exitCode = WORKER_BOOT_ERROR;
    // A thread ends here (its process serves on); a process once its channel has been written.
    if (this.link.thread > 0) process.exit(WORKER_BOOT_ERROR);
    process.disconnect?.();
  }

  private start(boot: BootMessage): Booted | null {
    if (this.link.thread === 0) process.title = `narwhal: worker [${boot.settings.proc_name ?? boot.app}]`;
    else shimProcessForThread();
    const missing = missingInternals('worker');
    if (missing.length > 0) {
      this.bootFailed(unsupportedNode(missing));
      return null;
    }
    // The heartbeat starts before the app loads: a boot that blocks the event loop past
    // --timeout is a hung worker too.
    const counters = newCounters();
    const heart = startHeartbeat(boot.heartbeatMs, counters, this.link);
    const log = new Logger(boot.settings.log_level, boot.settings.error_logfile, boot.settings.log_format);
    const statsd = attachCollectors(log, boot.settings);
    const cacheDir = compileCacheDir();
    if (cacheDir) log.debug(`Compile cache: ${cacheDir}`);
    const master = new MasterLink((m) => this.send(m));
    // From the start: an extra server's listen-result can arrive while the app loads, and a drain
    // (the master stopping) while it boots — then there is nothing to drain, and the worker exits.
    this.link.onMessage((m: MasterMessage, handle: unknown) => {
      if (m?.t === 'conn') this.feed?.accept(handle, m.head, m.served);
      else if (m?.t === 'shed' && this.link.sendHandle) this.feed?.shed(m.count, (h, served, sent) => this.link.sendHandle!({ t: 'moved', served }, h, sent));
      else if (m?.t === 'drain') void (this.shutdown ? this.shutdown.stop(m.closeIdle) : process.exit(0));
      else if (m?.t === 'listen-result') master.settle(m, handle);
      else if (m?.t === 'listener-copy') master.copied(m, handle);
      // reliability: a /metrics scrape wants the counters now (with threads, theirs too).
      else if (m?.t === 'report') void (this.threads ? this.threads.refresh() : Promise.resolve()).then(() => heart.beat(m.id));
      // reliability: the master shuts down itself (TERM to the process group): serve on until its drain.
      else if (m?.t === 'keep-serving' && this.stoppingFallback) clearTimeout(this.stoppingFallback);
      else if (m?.t === 'reopen') this.reopenLogs();
    });

    // Installed before the app loads, so that its listen() calls are adopted, never bound.
    const adoption = new Adoption({
      served: boot.listeners[0]!.where,
      share: (asked, backlog) => master.share(asked, backlog),
      notice: (message) => log.info(message),
      closed: () => {
        if (this.shutdown?.started || this.stopRequested) return;
        log.warning('The app closed the server narwhal serves: this worker stops taking connections and is replaced');
        this.stopRequested = true;
        this.send({ t: 'stopping', cause: 'app closed its server' });
      },
    });
    adoption.install();
    presentAsClusterWorker(boot.age);
    return { boot, log, statsd, counters, heart, master, adoption };
  }

  /** The worker hooks, the TLS files and the app. Null: boot failed (the master is told why). */
  private async load({ boot, log, adoption }: Booted): Promise<Loaded | null> {
    try {
      // hooks: the worker's own, from the config file the master read (functions do not cross IPC).
      const hooks = await WorkerHooks.load(boot.configFile, { pid: process.pid, age: boot.age, settings: boot.settings, log }, log);
      // Read once per worker: HUP replaces the workers, so a renewed certificate is picked up.
      const tlsFiles = loadTls(boot.settings, boot.cwd);
      const app = await loadApp(boot.app, boot.cwd, {
        adoption,
        waitMs: (boot.settings.timeout || 30) * 1000,
        guard: (listener) => (req, res) => {
          try {
            const result = listener(req, res);
            if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
              (result as PromiseLike<unknown>).then(undefined, (err: unknown) => failRequest(log, req, res, err));
            }
          } catch (err) {
            failRequest(log, req, res, err);
          }
        },
        onWait: (message) => log.debug(message),
      });
      if (tlsFiles && 'setSecureContext' in app.server) {
        throw new AppLoadError('the app\'s server terminates TLS itself (an https or tls server) and narwhal has certfile/keyfile set: drop one of the two');
      }
      return { app, hooks, tlsFiles, protocols: servedProtocols(app.server, boot.settings, tlsFiles) };
    } catch (err) {
      const addon = this.link.thread > 0 ? threadUnsafeAddon(err) : null;
      if (addon) {
        this.bootFailed(addon);
        return null;
      }
      this.bootFailed(err instanceof AppLoadError || err instanceof ConfigError || err instanceof TlsError ? err.message : (err as Error)?.stack ?? String(err));
      return null;
    }
  }

  /** The app loaded: the gate on its server, the feed of connections, the shutdown; then ready. */
  private async serve({ boot, log, statsd, counters, adoption, heart, master }: Booted, { app, hooks, tlsFiles, protocols }: Loaded): Promise<void> {
    await hooks.run('postWorkerInit');
    // reliability: an unhandled rejection is logged and the worker keeps serving (unless the app
    // listens for them itself); Node's default would end the worker and its in-flight requests.
    process.on('unhandledRejection', (reason) => {
      if (process.listenerCount('unhandledRejection') === 1) log.error(`Unhandled promise rejection (the worker keeps serving): ${(reason as Error)?.stack ?? String(reason)}`);
    });
    this.quickExit = (hook, code) => {
      this.quickExit = (_h, c) => process.exit(c);
      setTimeout(() => process.exit(code), 1000).unref();
      void hooks.run(hook).then(() => hooks.run('workerExit')).then(() => process.exit(code));
    };

    const access = boot.settings.access_logfile ? new AccessLog(boot.settings.access_logfile, boot.settings.access_logformat) : null;
    this.reopenLogs = () => { log.reopen(); access?.reopen(); this.threads?.reopenLogs(); log.debug('Reopened the log files'); };
    // USR1 (passed on by the master): reopen the log files logrotate has moved away.
    if (this.link.thread === 0) process.on('SIGUSR1', () => this.reopenLogs());
    const gate = new RequestGate(app.server, boot.settings, counters, log, access, statsd);
    if (boot.settings.sticky) gate.sessions = new EngineIoSessions((m) => this.send(m));
    gate.preRequest = hooks.requestHook('preRequest');
    gate.postRequest = hooks.requestHook('postRequest');
    if (app.upgrade) app.server.on('upgrade', app.upgrade);
    if (boot.maxRequests > 0) gate.onRequest = (count) => this.counted(count, boot.maxRequests);
    const feed = new ConnectionFeed(gate, boot.settings, tlsFiles, protocols, log);
    // closeIdle (the drain's): on shutdown, idle keep-alive connections are closed at once; when
    // the worker is only recycled they are kept until they time out or send one more request
    // (answered with Connection: close), since closing a connection a client is writing to
    // fails its request.
    this.shutdown = new WorkerShutdown({
      gracefulTimeoutS: boot.settings.graceful_timeout,
      stopAccepting: () => feed.stop(),
      drainRequests: (closeIdle) => {
        this.threads?.drain(closeIdle);
        return gate.connections.drainRequests(closeIdle);
      },
      drainAll: async () => { await Promise.all([gate.connections.drainAll(), this.threads?.stopped()]); },
      signals: this.signals,
      servers: () => adoption.servers(),
      closeApp: app.close,
      // The last requests' metrics go out before the process does (they wait up to 100 ms).
      exiting: () => hooks.run('workerExit').finally(() => statsd?.drain()),
      onError: (stage, err) => log.error(`The app's shutdown code (${stage}) failed: ${(err as Error)?.stack ?? String(err)}`),
    });
    this.feed = feed;

    try {
      await feed.listen(boot.listeners, (server, options, backlog, cb) => adoption.listenDirectly(server, options, backlog, cb));
    } catch (err) {
      this.send({ t: 'boot-error', message: `cannot listen: ${(err as Error).message}` });
      process.exit(WORKER_BOOT_ERROR);
    }
    if (boot.threads > 1 && this.link.thread === 0) {
      // After the process's own copy of the app has loaded: what it set process-wide (the
      // working directory, say) is in place for the threads' copies.
      this.threads = new ThreadGroup(boot, master, (m) => this.send(m), log);
      heart.merge((own) => this.threads!.merge(own));
      const failed = await this.threads.start();
      if (failed !== null) return this.bootFailed(failed);
    }
    const urls = boot.listeners.map((l) => l.url).join(', ');
    if (this.link.thread === 0) flushCompileCache();
    const loops = boot.threads > 1 ? ` (${boot.threads} event loops per worker: --threads)` : '';
    this.send({ t: 'ready', serving: `${app.description}, served at ${urls}${protocols.description}${loops}` });
  }

  /** max-requests: the master is asked once to replace this worker. */
  private counted(count: number, maxRequests: number): void {
    if (count >= maxRequests && !this.retiring) {
      this.retiring = true;
      this.send({ t: 'retire', reason: 'max_requests' });
    }
  }
}
