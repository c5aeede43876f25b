// --check-config's app check: loads the app once, as a worker would, in the CLI process. Whatever
// it listens on is adopted (nothing binds), what it exports is found; then it says what narwhal
// would serve, or why it cannot. Resolves with the exit code (0 fine, 1 not).
import type { Settings } from '../config/settings';
import type { TlsConfig } from '../http/tls';
import { missingInternals, unsupportedNode } from '../platform/node';
import { StandInHandle, type StandInAddress } from '../platform/node/net';
import { Adoption } from './adopt';
import { AppLoadError, loadApp } from './load-app';
import { servedProtocols } from './http-versions';

export async function checkApp(settings: Settings, cwd: string, tls: TlsConfig | null): Promise<number> {
  const missing = missingInternals('worker');
  if (missing.length > 0) {
    process.stderr.write(`${unsupportedNode(missing)}\n`);
    return 1;
  }
  try {
    Object.assign(process.env, settings.raw_env);
    const served: StandInAddress = { address: '127.0.0.1', family: 'IPv4', port: 0 };
    const adoption = new Adoption({
      served, share: async () => new StandInHandle(served, () => {}), notice: () => {}, closed: () => {},
    });
    adoption.install();
    const app = await loadApp(settings.app!, cwd, {
      adoption, waitMs: (settings.timeout || 30) * 1000, guard: (listener) => listener,
      onWait: (message) => process.stderr.write(`narwhal: ${message}\n`),
    });
    const protocols = servedProtocols(app.server, settings, tls);
    await app.close?.();
    process.stdout.write(`Config OK: ${settings.app}: narwhal serves ${app.description}${protocols.description}\n`);
    return 0;
  } catch (err) {
    const message = err instanceof AppLoadError ? err.message : (err as Error)?.stack ?? String(err);
    process.stderr.write(`narwhal: cannot load the app: ${message}\n`);
    return 1;
  }
}
