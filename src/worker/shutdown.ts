// How a worker stops gracefully, whatever the reason (TERM, HUP, max-requests, scale-down,
// memory): the app gets the chance to clean up that `node app.js` or PM2 gives it, but only
// after narwhal has finished the requests in flight, so that shutdown code that exits at once
// (`process.on('SIGTERM', () => process.exit())`) loses nothing. Three stages, bounded together
// by --graceful-timeout:
//   1. stop taking connections; wait for every connection still speaking HTTP to close;
//   2. run the app's shutdown code: its own SIGTERM listeners (NestJS enableShutdownHooks,
//      Next.js, Nitro install some), a `close` export, and close() on the servers narwhal
//      adopted, so their 'close' listeners run; promises they return are awaited;
//   3. wait for the connections the app took over (WebSockets) to close; exit.
// The app's SIGTERM listeners must not run when the signal arrives (they could exit mid-
// request), so SIGTERM goes to narwhal alone until stage 2 releases it.
import type net from 'node:net';
import { divertSignal } from '../platform/node/process';

export class AppSignals {
  private releasing = false;

  /** Installs the deferral; `onSigterm` is narwhal's own handling of the signal. */
  constructor(onSigterm: () => void) {
    divertSignal('SIGTERM', () => {
      if (this.releasing) return false;
      onSigterm();
      return true;
    });
    // One listener of ours keeps Node's signal watcher on whatever the app adds or removes, so a
    // SIGTERM never takes Node's default action (exit) in a worker. Added after the diversion,
    // which must come before the signal's first listener.
    process.on('SIGTERM', ownListener);
  }

  /** Runs the app's SIGTERM listeners now; resolves when the promises they return settle. */
  async release(): Promise<void> {
    const results: unknown[] = [];
    this.releasing = true;
    try {
      for (const listener of process.rawListeners('SIGTERM')) {
        if (listener === ownListener) continue;
        try {
          results.push((listener as (signal: string) => unknown).call(process, 'SIGTERM'));
        } catch (err) {
          results.push(Promise.reject(err));
        }
      }
    } finally {
      this.releasing = false;
    }
    await Promise.allSettled(results.filter(isThenable));
  }
}

function ownListener(): void {}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then === 'function';

export interface ShutdownParts {
  gracefulTimeoutS: number;
  /** Stops every source of new connections. */
  stopAccepting(): void;
  /** Stage 1 (closeIdle: close idle keep-alive connections now) and stage 3. */
  drainRequests(closeIdle: boolean): Promise<void>;
  drainAll(): Promise<void>;
  signals: AppSignals;
  /** The servers narwhal serves for the app, closed in stage 2. */
  servers(): net.Server[];
  /** The app's `close` export or the close of the shape it exported (Fastify). */
  closeApp?: () => Promise<void>;
  onError(stage: string, err: unknown): void;
  /** Last, just before the exit (the workerExit hook). */
  exiting?: () => Promise<void>;
}

export class WorkerShutdown {
  private stopping = false;

  constructor(private readonly parts: ShutdownParts) {}

  get started(): boolean {
    return this.stopping;
  }

  /** Drains, runs the app's shutdown code, exits; a second call does nothing. */
  async stop(closeIdle: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const p = this.parts;
    setTimeout(() => process.exit(0), p.gracefulTimeoutS * 1000).unref();
    p.stopAccepting();
    await p.drainRequests(closeIdle);
    await this.runAppShutdown();
    await p.drainAll();
    // 'close' callbacks of the servers run on the next tick after their last connection.
    await new Promise((resolve) => setImmediate(resolve));
    await p.exiting?.();
    process.exit(0);
  }

  private async runAppShutdown(): Promise<void> {
    const p = this.parts;
    const pending: Promise<unknown>[] = [p.signals.release().catch((err) => p.onError('SIGTERM listener', err))];
    if (p.closeApp) pending.push(p.closeApp().catch((err) => p.onError('close', err)));
    await Promise.all(pending);
    // After the app's own code, which may have closed them already (with a callback of its own).
    for (const server of p.servers()) if (server.listening) server.close();
  }
}
