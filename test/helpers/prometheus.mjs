// A real Prometheus for the tests: Debian's /usr/bin/prometheus run as a child of the test on
// 127.0.0.1 (temp config and TSDB dir, killed by PID), asked through its HTTP API; promtool
// for the rule files. .ci/run installs the package (apt `prometheus`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, kill, poll } from './proc.mjs';

export const PROMETHEUS = process.env.NARWHAL_PROMETHEUS || '/usr/bin/prometheus';
export const PROMTOOL = process.env.NARWHAL_PROMTOOL || '/usr/bin/promtool';

/** Throws one clear line when Prometheus is missing: the suite must not skip silently. */
export function requirePrometheus() {
  for (const bin of [PROMETHEUS, PROMTOOL]) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: install Debian's prometheus package (apt-get install prometheus; .ci/run does)`);
  }
}

/** Runs promtool with a time bound; resolves { ok, output }. */
export function promtool(args, { cwd, timeoutMs = 60_000 } = {}) {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}${r.error ? r.error.message : ''}` };
}


/**
 * Starts Prometheus scraping TARGETS (host:port of admin servers) every second as job JOB,
 * with RULE_FILES loaded; resolves once /-/ready answers. The caller must stop() it.
 */
export async function startPrometheus({ targets, job = 'narwhal', ruleFiles = [], timeoutMs = 20_000 }) {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  // JSON is YAML: no serializer needed for the config.
  writeFileSync(config, JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: job, static_configs: [{ targets }] }],
  }));
  const port = await freePort();
  const child = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const prom = {
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    /** Evaluates PromQL at now; resolves the result vector, rejects on an API error. */
    async query(expr) {
      const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
      const body = await res.json();
      if (body.status !== 'success') throw new Error(`${body.errorType}: ${body.error}\n  in: ${expr}`);
      return body.data.result;
    },
    async api(path) {
      const res = await fetch(`${prom.url}${path}`, { signal: AbortSignal.timeout(5000) });
      return (await res.json()).data;
    },
    async stop() {
      kill(child.pid);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.race([
      poll(async () => {
        try {
          return (await fetch(`${prom.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200;
        } catch {
          return false;
        }
      }, { timeoutMs, everyMs: 100, message: `Prometheus not ready on ${prom.url} after ${timeoutMs} ms:\n${log}` }),
      exited.then(({ code, signal }) => { throw new Error(`Prometheus exited (${code ?? signal}) before it was ready:\n${log}`); }),
    ]);
  } catch (err) {
    await prom.stop();
    throw err;
  }
  return prom;
}
