// A worker process: adopts the server the app listens on (or serves what it exports), feeds it
// the connections the master planned for it, beats its heart, and stops gracefully when the
// master says so, on TERM, or when it has served max-requests.
import { ConfigError } from '../config/errors';
import { WORKER_BOOT_ERROR, type BootMessage, type MasterMessage, type WorkerMessage } from '../ipc';
import { TlsError, loadTls } from '../http/tls';
import { AccessLog } from '../log/access-log';
import { Logger } from '../log/logger';
import { compileCacheDir, flushCompileCache } from '../platform/compile-cache';
import { missingInternals, unsupportedNode } from '../platform/node';
import { Adoption } from './adopt';
import { ConnectionFeed } from './deliver';
import { EngineIoSessions } from './socketio/sessions';
import { presentAsClusterWorker } from './cluster-worker';
import { startHeartbeat } from './heartbeat';
import { WorkerHooks } from './hooks';
import { Instrumented, failRequest, newCounters } from './instrument';
import { AppLoadError, loadApp, type LoadedApp } from './load-app';
import { MasterLink } from './master-link';
import { servedProtocols, type ServedProtocols } from './http-versions';
import { AppSignals, WorkerShutdown } from './shutdown';

/** How long a worker stopped from outside waits for the master's drain before draining anyway. */
const STOPPING_ANSWER_MS = 2000;

function send(message: WorkerMessage): void {
  if (process.connected) process.send?.(message);
}

function waitForBoot(): Promise<BootMessage> {
  return new Promise((resolve) => {
    const onMessage = (m: MasterMessage) => {
      if (m?.t !== 'boot') return;
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
  });
}

function bootFailed(message: string): void {
  send({ t: 'boot-error', message });
  process.exitCode = WORKER_BOOT_ERROR;
  process.disconnect?.();
}

export async function runWorker(): Promise<void> {
  // The master going away, even by SIGKILL, closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  // Until the app is served, a stop signal just ends the worker.
  let shutdown: WorkerShutdown | null = null;
  let stopRequested = false;
  // reliability: the fallback drain, cancelled when the master says to keep serving.
  let stoppingFallback: NodeJS.Timeout | null = null;
  const signals = new AppSignals(() => {
    // reliability: before the app is served, by the signal itself, so that the master sees
    // who stopped it (a TERM from outside, replaced at once) rather than a code-0 exit (a crash).
    if (!shutdown) return void (process.removeAllListeners('SIGTERM'), process.kill(process.pid, 'SIGTERM'));
    // From outside (an operator, a supervisor): the master stops routing to this worker first,
    // then asks it to drain; without a master to ask, drain now.
    if (shutdown.started || stopRequested) return;
    stopRequested = true;
    if (!process.connected) return void shutdown.stop(false);
    send({ t: 'stopping', cause: 'signal' });
    // A master that does not answer (an older one, a busy one) does not keep the worker up.
    stoppingFallback = setTimeout(() => void shutdown?.stop(false), STOPPING_ANSWER_MS).unref();
  });
  // INT/QUIT (quick) and ABRT: exit; once the hooks are loaded, after workerInt/workerAbort.
  let quick = (_hook: 'workerInt' | 'workerAbort', code: number): void => process.exit(code);
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) process.on(sig, () => quick('workerInt', 0));
  process.on('SIGABRT', () => quick('workerAbort', 1));
  // HUP, USR1, USR2 and WINCH are the master's; a worker must not die of them.
  for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(sig, () => {});

  const boot = await waitForBoot();
  process.title = `narwhal: worker [${boot.settings.proc_name ?? boot.app}]`;
  const missing = missingInternals('worker');
  if (missing.length > 0) return bootFailed(unsupportedNode(missing));
  // The heartbeat starts before the app loads: a boot that blocks the event loop past
  // --timeout is a hung worker too.
  const counters = newCounters();
  const heart = startHeartbeat(boot.heartbeatMs, counters, send);
  const log = new Logger(boot.settings.log_level, boot.settings.error_logfile, boot.settings.log_format);
  const cacheDir = compileCacheDir();
  if (cacheDir) log.debug(`Compile cache: ${cacheDir}`);
  const master = new MasterLink(send);
  // From the start: an extra server's listen-result can arrive while the app loads, and a drain
  // (the master stopping) while it boots — then there is nothing to drain, and the worker exits.
  let feedReady: ConnectionFeed | null = null;
  process.on('message', (m: MasterMessage, handle: unknown) => {
    if (m?.t === 'conn') feedReady?.accept(handle, m.head);
    else if (m?.t === 'drain') void (shutdown ? shutdown.stop(m.closeIdle) : process.exit(0));
    else if (m?.t === 'listen-result') master.settle(m, handle);
    else if (m?.t === 'report') heart.beat(m.id); // reliability: a /metrics scrape wants the counters now
    // reliability: the master shuts down itself (TERM to the process group): serve on until its drain.
    else if (m?.t === 'keep-serving' && stoppingFallback) clearTimeout(stoppingFallback);
  });

  // Installed before the app loads, so that its listen() calls are adopted, never bound.
  const first = boot.listeners[0]!;
  const adoption = new Adoption({
    served: first.where,
    share: (asked, backlog) => master.share(asked, backlog),
    notice: (message) => log.info(message),
    closed: () => {
      if (shutdown?.started || stopRequested) return;
      log.warning('The app closed the server narwhal serves: this worker stops taking connections and is replaced');
      stopRequested = true;
      send({ t: 'stopping', cause: 'app closed its server' });
    },
  });
  adoption.install();
  presentAsClusterWorker(boot.age);

  let app: LoadedApp;
  let hooks: WorkerHooks;
  let tlsFiles;
  let protocols: ServedProtocols;
  try {
    // hooks: the worker's own, from the config file the master read (functions do not cross IPC).
    hooks = await WorkerHooks.load(boot.configFile, { pid: process.pid, age: boot.age, settings: boot.settings, log }, log);
    // Read once per worker: HUP replaces the workers, so a renewed certificate is picked up.
    tlsFiles = loadTls(boot.settings, boot.cwd);
    app = await loadApp(boot.app, boot.cwd, {
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
    protocols = servedProtocols(app.server, boot.settings, tlsFiles);
  } catch (err) {
    return bootFailed(err instanceof AppLoadError || err instanceof ConfigError || err instanceof TlsError ? err.message : (err as Error)?.stack ?? String(err));
  }
  await hooks.run('postWorkerInit');
  // reliability: an unhandled rejection is logged and the worker keeps serving (unless the app
  // listens for them itself); Node's default would end the worker and its in-flight requests.
  process.on('unhandledRejection', (reason) => {
    if (process.listenerCount('unhandledRejection') === 1) log.error(`Unhandled promise rejection (the worker keeps serving): ${(reason as Error)?.stack ?? String(reason)}`);
  });
  quick = (hook, code) => {
    quick = (_h, c) => process.exit(c);
    setTimeout(() => process.exit(code), 1000).unref();
    void hooks.run(hook).then(() => hooks.run('workerExit')).then(() => process.exit(code));
  };

  const access = boot.settings.access_logfile ? new AccessLog(boot.settings.access_logfile, boot.settings.access_logformat) : null;
  // USR1 (passed on by the master): reopen the log files logrotate has moved away.
  process.on('SIGUSR1', () => { log.reopen(); access?.reopen(); log.debug('Reopened the log files'); });
  const http = new Instrumented(app.server, boot.settings, counters, log, access);
  if (boot.settings.sticky) http.sessions = new EngineIoSessions(send);
  http.preRequest = hooks.requestHook('preRequest');
  http.postRequest = hooks.requestHook('postRequest');
  if (app.upgrade) app.server.on('upgrade', app.upgrade);
  let retiring = false;
  if (boot.maxRequests > 0) {
    http.onRequest = (count) => {
      if (count >= boot.maxRequests && !retiring) {
        retiring = true;
        send({ t: 'retire', reason: 'max_requests' });
      }
    };
  }
  const feed = new ConnectionFeed(http, boot.settings, tlsFiles, protocols, log);
  shutdown = new WorkerShutdown({
    gracefulTimeoutS: boot.settings.graceful_timeout,
    stopAccepting: () => feed.stop(),
    drainRequests: (closeIdle) => http.drainRequests(closeIdle),
    drainAll: () => http.drainAll(),
    signals,
    servers: () => adoption.servers(),
    closeApp: app.close,
    exiting: () => hooks.run('workerExit'),
    onError: (stage, err) => log.error(`The app's shutdown code (${stage}) failed: ${(err as Error)?.stack ?? String(err)}`),
  });

  // closeIdle: on shutdown, idle keep-alive connections are closed at once; when the worker is
  // only recycled they are kept until they time out or send one more request (answered with
  // Connection: close), since closing a connection a client is writing to fails its request.
  feedReady = feed;

  try {
    await feed.listen(boot.listeners, (server, options, backlog, cb) => adoption.listenDirectly(server, options, backlog, cb));
  } catch (err) {
    send({ t: 'boot-error', message: `cannot listen: ${(err as Error).message}` });
    process.exit(WORKER_BOOT_ERROR);
  }
  const urls = boot.listeners.map((l) => l.url).join(', ');
  flushCompileCache();
  send({ t: 'ready', serving: `${app.description}, served at ${urls}${protocols.description}` });
}
