// The master's boot, the composition root of the master process: argv -> settings -> a plan
// (config/plan.ts) -> an Arbiter that binds, forks and supervises, with the admin server, the
// control socket and the reloader attached; or --print-config / --check-config, which stop
// before anything binds.
import { dirname } from 'node:path';
import { parseArgs } from '../config/cli-args';
import { ConfigError, formatSettings, resolveSettings } from '../config/load';
import { applyProcessSettings, planPool, planServer, type PlanSource } from '../config/plan';
import { checkTlsSettings, TlsError } from '../http/tls';
import { BindError } from '../http/listeners';
import { attachCollectors } from '../log/collectors';
import { Logger } from '../log/logger';
import { readCgroup } from '../platform/cgroup';
import { missingInternals, unsupportedNode } from '../platform/node';
import { systemdNotifier, takeListenFds } from '../platform/systemd';
import { parseAppSpec } from '../worker/app-spec';
import { Arbiter } from '../master/arbiter';
import { reportPool } from '../master/statsd-report';
import type { ControlServer } from '../master/control';
import type { Reloader } from '../master/reloader';
import { takeInheritance } from '../master/upgrade';

declare const NARWHAL_VERSION: string;
/** The build's commit and date (build/bundle.mjs buildInfo()). */
declare const NARWHAL_COMMIT: string;
declare const NARWHAL_BUILD_DATE: string;

/** The master's error log, once it exists: with --log-format json a fatal error is a JSON line too. */
let masterLog: Logger | null = null;

function fatal(message: string, code: number): never {
  if (masterLog?.json) masterLog.critical(message);
  else process.stderr.write(`narwhal: error: ${message}\n`);
  process.exit(code);
}

async function boot(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.version) {
    // The first line is the one scripts parse; the second says which build this is.
    process.stdout.write(`narwhal ${NARWHAL_VERSION} (Node.js ${process.version})\n`
      + `${process.platform}-${process.arch}, commit ${NARWHAL_COMMIT}, ${NARWHAL_BUILD_DATE}\n`);
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
  const source: PlanSource = { values: args.values, env: process.env, launchCwd, activatedBinds: activated?.addresses ?? null };
  checkTlsSettings(settings);
  const facts = readCgroup();
  if (settings.print_config) {
    const { workers, heap } = planPool(settings, facts);
    const lines = formatSettings(settings).map((l) => (l.startsWith('workers = ') ? `workers = ${workers.count}` : l));
    lines.push(`# workers = ${workers.count}: ${workers.source}`);
    lines.push(`# worker heap: ${heap.describe(workers.count)}`);
    if (resolved.configFile) lines.push(`# config file: ${resolved.configFile}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  if (!settings.app) throw new ConfigError('no APP given: narwhal [options] path/to/app.js[:export]; see narwhal --help');
  applyProcessSettings(settings, launchCwd);
  const cwd = process.cwd();
  // Before anything binds: bad combinations are one line and exit 2; an unreadable or mismatched
  // certificate one line and exit 1. The master only checks the TLS files; workers read them again.
  const plan = planServer(settings, cwd, facts);
  const { workers, heap, compileCache } = plan;
  if (settings.check_config) {
    // The app loads as in a worker (worker/check-app.ts): whatever it listens on is adopted.
    const { checkApp } = await import('../worker/check-app');
    process.exit(await checkApp(settings, cwd, plan.tls));
  }
  // Before anything binds: a Node that lacks an internal the master uses is refused in one line.
  const missing = missingInternals('master');
  if (missing.length > 0) {
    process.stderr.write(`${unsupportedNode(missing)}\n`);
    process.exit(1);
  }
  const log = new Logger(settings.log_level, settings.error_logfile, settings.log_format);
  masterLog = log;
  // syslog and StatsD, as the settings name them (the workers attach their own).
  const statsd = attachCollectors(log, settings);
  // A master started by USR2 serves the sockets its predecessor handed over.
  const { fds: inherited, parent: upgradeParent } = takeInheritance();
  // Its predecessor was socket-activated: the sockets it hands over are fd://N, not --bind.
  if (inherited.size > 0 && [...inherited.keys()].every((a) => a.startsWith('fd://'))) settings.bind = [...inherited.keys()];
  let control: ControlServer | null = null;
  let reloader: Reloader | null = null;
  const arbiter = new Arbiter({
    app: settings.app, cwd: launchCwd, settings, plan, source, log, version: NARWHAL_VERSION,
    configFile: resolved.configFile, notify: systemdNotifier(log) ?? undefined,
    // Once the app's sockets are bound, before any worker: /readyz answers 503 while the pool boots.
    afterBind: async () => {
      if (activated) log.info(`systemd socket activation: serving ${activated.addresses.map((a, i) => `${a}${activated.names[i] ? ` (${activated.names[i]})` : ''}`).join(', ')}; bind is ignored`);
      log.debug(`Compile cache: ${compileCache.describe}`);
      log.info(`Workers: ${workers.count} (${workers.source})`);
      log.info(`Worker heap: ${heap.describe(workers.count)}`);
      // Each loads only when it is on (prom-client, chokidar: memory a master without them keeps).
      if (settings.admin_bind) await (await import('../admin/server')).startAdmin(arbiter, settings.admin_bind, log, { upgradeParent });
      if (settings.control_socket) {
        const { startControl } = await import('../master/control');
        control = await startControl(arbiter, settings.control_socket, log, { takeOver: inherited.size > 0 });
      }
      if (settings.reload) {
        const { startReloader } = await import('../master/reloader');
        const own = [settings.pid, settings.access_logfile, settings.error_logfile, settings.control_socket,
          ...settings.bind.filter((b) => b.startsWith('unix:')).map((b) => b.slice(5))].filter((f): f is string => Boolean(f) && f !== '-');
        reloader = startReloader({
          appDir: dirname(parseAppSpec(settings.app!, cwd).file), extraPaths: settings.reload_extra_files, ownFiles: own, log,
          reload: () => void arbiter.handleHup(),
        });
        await reloader.ready;
      }
    },
  });
  if (statsd) reportPool(statsd, () => arbiter.snapshot);
  const code = await arbiter.run(inherited);
  (control as ControlServer | null)?.close();
  await (reloader as Reloader | null)?.close();
  process.exit(code);
}


/** `narwhal [options] APP`: runs the master until it stops, then exits with its code. */
export function main(argv: string[]): void {
  boot(argv).catch((err) => {
    if (err instanceof ConfigError) fatal(err.message, 2);
    if (err instanceof BindError || err instanceof TlsError) fatal(err.message, 1);
    fatal((err as Error)?.stack ?? String(err), 1);
  });
}
