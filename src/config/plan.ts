// Settings -> what the master will run: the pool size, each worker's heap, the identity workers
// run as, the TLS material. Boot, --check-config and HUP all go through planServer(), so they
// cannot drift apart. A refusal is a ConfigError (exit 2) or a TlsError (exit 1), before anything
// binds.
import type { ResolvedDistribution, Settings } from './settings';
import { ConfigError } from './errors';
import { resolveSettings, type CliValues } from './load';
import { checkTlsSettings, loadTls, type TlsConfig } from '../http/tls';
import { readCgroup, type CgroupFacts } from '../platform/cgroup';
import { planCompileCache, type CompileCachePlan } from '../platform/compile-cache';
import { resolveWorkerCount, type WorkerCount } from '../platform/cpus';
import { planHeap, type HeapPlan } from '../platform/heap';
import { hasReusePort } from '../platform/node/net';
import { resolveIdentity, type WorkerIdentity } from '../platform/users';

export interface PoolPlan {
  workers: WorkerCount;
  heap: HeapPlan;
}

export interface ServerPlan extends PoolPlan {
  identity: WorkerIdentity | undefined;
  /** distribution with `auto` resolved. */
  distribution: ResolvedDistribution;
  /** What the workers' TLS front needs; null without certfile. */
  tls: TlsConfig | null;
  /** Node's compile cache for the workers. */
  compileCache: CompileCachePlan;
}

/** The pool's size and heaps, from the settings and the container (--print-config shows these). */
export function planPool(settings: Settings, facts: CgroupFacts = readCgroup()): PoolPlan {
  return {
    workers: threadsShare(resolveWorkerCount(settings.workers, facts), settings),
    heap: planHeap({ workerHeapMb: settings.worker_heap_mb, facts, loopsPerWorker: settings.threads }),
  };
}

/**
 * --workers auto with --threads: the CPUs are event loops, so the processes are the CPUs divided
 * by the threads each runs (workers x threads <= the CPUs, at least one worker).
 */
function threadsShare(count: WorkerCount, settings: Pick<Settings, 'workers' | 'threads'>): WorkerCount {
  if (settings.workers !== 'auto' || settings.threads <= 1) return count;
  const workers = Math.max(1, Math.floor(count.count / settings.threads));
  return { count: workers, source: `${count.source}; / ${settings.threads} threads per worker = ${workers}` };
}

/** --threads: every event loop accepts on its own copy of the listening socket, which round-robin cannot give. */
function checkThreads(settings: Pick<Settings, 'threads' | 'sticky'>, distribution: ResolvedDistribution): void {
  if (settings.threads <= 1 || distribution !== 'round-robin') return;
  const why = settings.sticky ? '--sticky routes each connection to a worker process in the master' : 'round-robin hands each connection to a worker process';
  throw new ConfigError(`invalid value for threads: ${settings.threads} event loops per worker need distribution shared or reuseport, ` +
    `where each loop accepts on its own copy of the listening socket; ${why}, over an IPC channel a thread does not have (use --threads 1, or more --workers)`);
}

/**
 * The distribution the master runs. `auto` is the shared socket — the kernel's queue, which the
 * ready workers accept from in turn, costs no IPC per connection (bench/README.md: about twice
 * round-robin's rate with a connection per request) — except with --sticky, which needs the
 * master to route each connection itself.
 */
export function resolveDistribution(settings: Pick<Settings, 'distribution' | 'sticky'>): ResolvedDistribution {
  const mode = settings.distribution;
  if (settings.sticky && mode !== 'round-robin' && mode !== 'auto') {
    throw new ConfigError(`invalid value for sticky: it needs distribution round-robin (or auto), where the master routes each connection (distribution is ${mode})`);
  }
  if (mode !== 'auto') return mode;
  return settings.sticky ? 'round-robin' : 'shared';
}

/** Everything the master needs to start or reload a pool; the TLS files are read relative to `cwd`. */
export function planServer(settings: Settings, cwd: string, facts: CgroupFacts = readCgroup()): ServerPlan {
  checkTlsSettings(settings);
  if (settings.distribution === 'reuseport' && !hasReusePort()) {
    throw new ConfigError(`invalid value for distribution: "reuseport" needs Node.js >= 22.12 (this is ${process.version}); ` +
      'use the narwhal binary, or round-robin or shared');
  }
  const distribution = resolveDistribution(settings);
  checkThreads(settings, distribution);
  let identity: WorkerIdentity | undefined;
  try {
    identity = resolveIdentity(settings.user, settings.group);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const tls = loadTls(settings, cwd);
  const compileCache = planCompileCache(settings.compile_cache, {
    uid: identity?.uid ?? process.getuid?.() ?? 0, gid: identity?.gid ?? process.getgid?.() ?? 0,
  });
  return { ...planPool(settings, facts), identity, distribution, tls, compileCache };
}

/** Where a master's settings come from: read again, the same way, on every HUP. */
export interface PlanSource {
  /** The command line's values. */
  values: CliValues;
  env: NodeJS.ProcessEnv;
  /** Where narwhal started: the config file is found from here; --chdir applies after. */
  launchCwd: string;
  /** systemd socket activation: the sockets systemd passed replace --bind. */
  activatedBinds: string[] | null;
}

/** --chdir and --umask, in the master (workers inherit both), before anything binds or loads. */
export function applyProcessSettings(settings: Settings, launchCwd: string): void {
  process.chdir(settings.chdir ?? launchCwd);
  if (settings.umask !== null) process.umask(settings.umask);
}

/** Settings read from their sources and turned into a plan, as a running master does on HUP. */
export async function loadServerPlan(source: PlanSource): Promise<{ settings: Settings; plan: ServerPlan; configFile: string | null }> {
  const { settings, configFile } = await resolveSettings(source.values, source.env, source.launchCwd);
  if (source.activatedBinds) settings.bind = source.activatedBinds;
  applyProcessSettings(settings, source.launchCwd);
  return { settings, plan: planServer(settings, process.cwd()), configFile };
}
