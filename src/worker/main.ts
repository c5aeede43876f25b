// A worker process: loads the app, serves the listeners the master planned for it, beats its
// heart, and drains when told to (TERM) or when it has served its max-requests.
import { Logger } from '../log/logger';
import { WORKER_BOOT_ERROR, type BootMessage, type MasterMessage, type WorkerMessage } from '../protocol';
import { startHeartbeat } from './heartbeat';
import { WorkerHttp } from './http-server';
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
  const log = new Logger();
  // The master going away, even by SIGKILL, closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  // Until the app is up, a stop signal just ends the worker.
  const early = () => process.exit(0);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, early);
  process.on('SIGHUP', () => {}); // the master reloads; a worker ignores HUP
  process.on('SIGUSR1', () => {});
  process.on('SIGWINCH', () => {});

  const boot = await waitForBoot();
  log.setLevel(boot.settings.log_level);
  process.title = `narwhal: worker [${boot.settings.proc_name ?? boot.app}]`;

  let app: LoadedApp;
  try {
    app = await loadApp(boot.app, boot.cwd);
  } catch (err) {
    const message = err instanceof AppLoadError ? err.message : (err as Error)?.stack ?? String(err);
    send({ t: 'boot-error', message });
    log.error(`Exception in worker process:\n${message}`);
    process.exitCode = WORKER_BOOT_ERROR;
    process.disconnect?.();
    return;
  }

  const http = new WorkerHttp(app.listener, boot.settings);
  let retiring = false;
  if (boot.maxRequests > 0) {
    http.onRequest = (count) => {
      if (count >= boot.maxRequests && !retiring) {
        retiring = true;
        send({ t: 'retire', reason: 'max_requests' });
      }
    };
  }
  process.on('message', (m: MasterMessage, handle: unknown) => {
    if (m?.t === 'conn') http.accept(m.listener, handle);
  });
  try {
    await http.listen(boot.listeners);
  } catch (err) {
    send({ t: 'boot-error', message: `cannot listen: ${(err as Error).message}` });
    process.exit(WORKER_BOOT_ERROR);
  }

  // TERM: shut down (idle keep-alive connections closed now). USR2, sent by the master when it
  // recycles this worker: keep idle connections until they time out or send one more request,
  // which is answered with Connection: close. INT/QUIT: quick exit.
  let stopping = false;
  const drain = async (closeIdle: boolean) => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), boot.settings.graceful_timeout * 1000).unref();
    await http.drain(closeIdle);
    await app.close?.().catch(() => {});
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.off(sig, early);
  process.on('SIGTERM', () => void drain(true));
  process.on('SIGUSR2', () => void drain(false));
  process.on('SIGINT', () => process.exit(0));
  process.on('SIGQUIT', () => process.exit(0));

  startHeartbeat(boot.heartbeatMs, http.counters, send);
  send({ t: 'ready' });
}
