// A worker process: loads the app, serves the listeners the master planned for it, beats its
// heart, and drains when the master says so (or on TERM) or when it has served max-requests.
import { WORKER_BOOT_ERROR, type BootMessage, type MasterMessage, type WorkerMessage } from '../protocol';
import { AccessLog } from '../log/access-log';
import { Logger } from '../log/logger';
import { startHeartbeat } from './heartbeat';
import { WorkerHttp, newCounters } from './http-server';
import { AppLoadError, loadApp, type LoadedApp } from './load-app';

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

export async function runWorker(): Promise<void> {
  // The master going away, even by SIGKILL, closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  // Until the app serves, any stop signal just ends the worker.
  // reliability: by the signal itself, so that the master sees who stopped it (not a code-0 crash).
  const early = (sig: NodeJS.Signals) => { process.removeAllListeners(sig); process.kill(process.pid, sig); };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, early);
  // HUP, USR1, USR2 and WINCH are the master's; a worker must not die of them.
  for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGWINCH'] as const) process.on(sig, () => {});

  const boot = await waitForBoot();
  process.title = `narwhal: worker [${boot.settings.proc_name ?? boot.app}]`;
  // The heartbeat starts before the app loads: a boot that blocks the event loop past
  // --timeout is a hung worker too.
  const counters = newCounters();
  const heart = startHeartbeat(boot.heartbeatMs, counters, send);

  let app: LoadedApp;
  try {
    app = await loadApp(boot.app, boot.cwd);
  } catch (err) {
    const message = err instanceof AppLoadError ? err.message : (err as Error)?.stack ?? String(err);
    send({ t: 'boot-error', message });
    process.exitCode = WORKER_BOOT_ERROR;
    process.disconnect?.();
    return;
  }

  const log = new Logger(boot.settings.log_level, boot.settings.error_logfile);
  // reliability: an unhandled rejection is logged and the worker keeps serving (unless the app
  // listens for them itself); Node's default would end the worker and its in-flight requests.
  process.on('unhandledRejection', (reason) => {
    if (process.listenerCount('unhandledRejection') === 1) log.error(`Unhandled promise rejection (the worker keeps serving): ${(reason as Error)?.stack ?? String(reason)}`);
  });
  const access = boot.settings.access_logfile ? new AccessLog(boot.settings.access_logfile, boot.settings.access_logformat) : null;
  // USR1 (passed on by the master): reopen the log files logrotate has moved away.
  process.on('SIGUSR1', () => { log.reopen(); access?.reopen(); });
  const http = new WorkerHttp(app.listener, boot.settings, counters, log, access);
  let retiring = false;
  if (boot.maxRequests > 0) {
    http.onRequest = (count) => {
      if (count >= boot.maxRequests && !retiring) {
        retiring = true;
        send({ t: 'retire', reason: 'max_requests' });
      }
    };
  }

  // closeIdle: on shutdown, idle keep-alive connections are closed at once; when the worker is
  // only recycled they are kept until they time out or send one more request (answered with
  // Connection: close), since closing a connection a client is writing to fails its request.
  let stopping = false;
  const drain = async (closeIdle: boolean) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), boot.settings.graceful_timeout * 1000).unref();
    await http.drain(closeIdle);
    await app.close?.().catch(() => {});
    process.exit(0);
  };
  process.on('message', (m: MasterMessage, handle: unknown) => {
    if (m?.t === 'conn') http.accept(m.listener, handle);
    else if (m?.t === 'drain') void drain(m.closeIdle);
    else if (m?.t === 'report') heart.beat(m.id); // reliability: a /metrics scrape wants the counters now
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.off(sig, early);
  // reliability: TERM from outside: the master stops routing to this worker, then sends 'drain'.
  process.on('SIGTERM', () => (process.connected ? send({ t: 'stopping' }) : void drain(true)));
  process.on('SIGINT', () => process.exit(0));
  process.on('SIGQUIT', () => process.exit(0));

  try {
    await http.listen(boot.listeners);
  } catch (err) {
    send({ t: 'boot-error', message: `cannot listen: ${(err as Error).message}` });
    process.exit(WORKER_BOOT_ERROR);
  }
  if (app.upgrade) for (const server of http.servers) server.on('upgrade', app.upgrade);
  send({ t: 'ready' });
}
