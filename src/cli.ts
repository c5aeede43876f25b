// Entry point: argv -> settings -> master (or, in a worker process, the worker).
import { parseArgs } from './config/cli-args';
import { ConfigError, formatSettings, resolveSettings } from './config/load';
import { BindError } from './http/listeners';
import { TlsError, checkTlsSettings, loadTls } from './http/tls';
import { Logger } from './log/logger';
import { Arbiter } from './master/arbiter';
import { resolveWorkerCount } from './platform/cpus';
import { hasReusePort } from './platform/node-features';
import { resolveIdentity } from './platform/users';
import { readCgroup } from './platform/cgroup';
import { planHeap } from './platform/heap';
import { startAdmin } from './admin/server';
import { takeInheritedFds } from './master/upgrade';
import { startControl, type ControlServer } from './master/control';
import { startReloader, type Reloader } from './master/reloader';
import { systemdNotifier, takeListenFds } from './platform/systemd';
import { runCtl } from './ctl';
import { parseAppSpec } from './worker/app-spec';
import { dirname } from 'node:path';
import type { Settings } from './config/settings';
import { healthcheck, healthcheckUrl } from './healthcheck';
import { WORKER_ENV } from './protocol';
import { runWorker } from './worker/main';
import { AppLoadError, loadApp } from './worker/load-app';
import { Adoption } from './worker/adopt';
import { servedProtocols } from './worker/protocols';
import { StandInHandle, type StandInAddress } from './platform/node-internals';

declare const NARWHAL_VERSION: string;

/** The master's error log, once it exists: with --log-format json a fatal error is a JSON line too. */
let masterLog: Logger | null = null;

function fatal(message: string, code: number): never {
  if (masterLog?.json) masterLog.critical(message);
  else process.stderr.write(`narwhal: error: ${message}\n`);
  process.exit(code);
}

/** --chdir and --umask, in the master (workers inherit both), before anything binds or loads. */
function applyProcessSettings(settings: Settings, launchCwd: string): void {
  process.chdir(settings.chdir ?? launchCwd);
  if (settings.umask !== null) process.umask(settings.umask);
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.version) {
    process.stdout.write(`narwhal ${NARWHAL_VERSION} (Node.js ${process.version})\n`);
    return;
  }
  if (args.help) {
    process.stdout.write(args.helpText());
    return;
  }
  // The config file is found from where narwhal started; --chdir applies after it is read.
  const launchCwd = process.cwd();
  const resolved = await resolveSettings(args.values, process.env, launchCwd);
  const { settings } = resolved;
  // systemd socket activation: serve the sockets systemd passed instead of binding --bind.
  const activated = takeListenFds();
  if (activated) settings.bind = activated.addresses;
  checkTlsSettings(settings);
  const facts = readCgroup();
  const workers = resolveWorkerCount(settings.workers, facts);
  let heap = planHeap({ workerHeapMb: settings.worker_heap_mb, facts });
  if (settings.print_config) {
    const lines = formatSettings(settings).map((l) => (l.startsWith('workers = ') ? `workers = ${workers.count}` : l));
    lines.push(`# workers = ${workers.count}: ${workers.source}`);
    lines.push(`# worker heap: ${heap.describe(workers.count)}`);
    if (resolved.configFile) lines.push(`# config file: ${resolved.configFile}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  if (settings.distribution === 'reuseport' && !hasReusePort()) {
    throw new ConfigError(`invalid value for distribution: "reuseport" needs Node.js >= 22.12 (this is ${process.version}); ` +
      'use the narwhal binary, or round-robin or shared');
  }
  if (settings.sticky && settings.distribution !== 'round-robin') {
    throw new ConfigError(`invalid value for sticky: it needs distribution round-robin, where the master routes each connection (distribution is ${settings.distribution})`);
  }
  let workerIdentity;
  try {
    workerIdentity = resolveIdentity(settings.user, settings.group);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (!settings.app) throw new ConfigError('no APP given: narwhal [options] path/to/app.js[:export]; see narwhal --help');
  applyProcessSettings(settings, launchCwd);
  const cwd = process.cwd();
  // Before anything binds: an unreadable or mismatched certificate is one line and exit 1. The
  // master only checks; workers read the files again at boot and serve TLS.
  const tlsConfig = loadTls(settings, cwd);
  if (settings.check_config) {
    try {
      Object.assign(process.env, settings.raw_env);
      // The app loads as in a worker: whatever it listens on is adopted, nothing binds.
      const served: StandInAddress = { address: '127.0.0.1', family: 'IPv4', port: 0 };
      const adoption = new Adoption({
        served, share: async () => new StandInHandle(served, () => {}), notice: () => {}, closed: () => {},
      });
      adoption.install();
      const app = await loadApp(settings.app, cwd, {
        adoption, waitMs: (settings.timeout || 30) * 1000, guard: (listener) => listener,
        onWait: (message) => process.stderr.write(`narwhal: ${message}\n`),
      });
      const protocols = servedProtocols(app.server, settings, tlsConfig);
      await app.close?.();
      process.stdout.write(`Config OK: ${settings.app}: narwhal serves ${app.description}${protocols.description}\n`);
      process.exit(0);
    } catch (err) {
      const message = err instanceof AppLoadError ? err.message : (err as Error)?.stack ?? String(err);
      process.stderr.write(`narwhal: cannot load the app: ${message}\n`);
      process.exit(1);
    }
  }
  const log = new Logger(settings.log_level, settings.error_logfile, settings.log_format);
  masterLog = log;
  // A master started by USR2 serves the sockets its predecessor handed over.
  const inherited = takeInheritedFds();
  // Its predecessor was socket-activated: the sockets it hands over are fd://N, not --bind.
  if (inherited.size > 0 && [...inherited.keys()].every((a) => a.startsWith('fd://'))) settings.bind = [...inherited.keys()];
  let control: ControlServer | null = null;
  let reloader: Reloader | null = null;
  const arbiter = new Arbiter({
    app: settings.app, cwd: launchCwd, settings, workers: workers.count, log, version: NARWHAL_VERSION, workerIdentity,
    configFile: resolved.configFile, notify: systemdNotifier(log) ?? undefined,
    workerNodeFlags: (n) => heap.flags(n),
    canGrow: (n) => heap.refuse(n),
    // Once the app's sockets are bound, before any worker: /readyz answers 503 while the pool boots.
    afterBind: async () => {
      if (activated) log.info(`systemd socket activation: serving ${activated.addresses.map((a, i) => `${a}${activated.names[i] ? ` (${activated.names[i]})` : ''}`).join(', ')}; bind is ignored`);
      log.info(`Workers: ${workers.count} (${workers.source})`);
      log.info(`Worker heap: ${heap.describe(workers.count)}`);
      if (settings.admin_bind) await startAdmin(arbiter, settings.admin_bind, log);
      if (settings.control_socket) control = await startControl(arbiter, settings.control_socket, log, { takeOver: inherited.size > 0 });
      if (settings.reload) {
        const own = [settings.pid, settings.access_logfile, settings.error_logfile, settings.control_socket,
          ...settings.bind.filter((b) => b.startsWith('unix:')).map((b) => b.slice(5))].filter((f): f is string => Boolean(f) && f !== '-');
        reloader = startReloader({
          appDir: dirname(parseAppSpec(settings.app!, cwd).file), extraPaths: settings.reload_extra_files, ownFiles: own, log,
          reload: () => void arbiter.handleHup(),
        });
        await reloader.ready;
      }
    },
    reloadSettings: async () => {
      const next = await resolveSettings(args.values, process.env, launchCwd);
      if (activated) next.settings.bind = activated.addresses;
      applyProcessSettings(next.settings, launchCwd);
      loadTls(next.settings, process.cwd());
      heap = planHeap({ workerHeapMb: next.settings.worker_heap_mb, facts: readCgroup() });
      return { settings: next.settings, workers: resolveWorkerCount(next.settings.workers).count };
    },
  });
  const code = await arbiter.run(inherited);
  (control as ControlServer | null)?.close();
  await (reloader as Reloader | null)?.close();
  process.exit(code);
}

if (process.env[WORKER_ENV]) {
  // The app's own child processes must not start as narwhal workers.
  delete process.env[WORKER_ENV];
  runWorker().catch((err) => {
    process.stderr.write(`narwhal worker: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  });
} else if (process.argv[2] === 'ctl') {
  // `narwhal ctl …`: a client of a running master's control socket (ctl.ts).
  runCtl(process.argv.slice(3));
} else if (process.argv[2] === '--healthcheck') {
  // The image's HEALTHCHECK probe (healthcheck.ts): no master, no config.
  void healthcheck(healthcheckUrl(process.argv[3], process.env)).then((code) => process.exit(code));
} else {
  main(process.argv.slice(2)).catch((err) => {
    if (err instanceof ConfigError) fatal(err.message, 2);
    if (err instanceof BindError || err instanceof TlsError) fatal(err.message, 1);
    fatal((err as Error)?.stack ?? String(err), 1);
  });
}
