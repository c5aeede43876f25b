// Settings -> what the master will run: the pool size, each worker's heap, the identity workers
// run as, the TLS material. Boot, --check-config and HUP all go through planServer(), so they
// cannot drift apart. A refusal is a ConfigError (exit 2) or a TlsError (exit 1), before anything
// binds.
import type { ResolvedDistribution, Settings } from './settings';
import { ConfigError } from './errors';
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
    workers: resolveWorkerCount(settings.workers, facts),
    heap: planHeap({ workerHeapMb: settings.worker_heap_mb, facts }),
  };
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
