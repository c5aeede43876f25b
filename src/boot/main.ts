// The main bundle's entry (dist/narwhal-main.js; the single binary embeds it): which process this
// is decides what loads. Each branch imports its part dynamically, which esbuild bundles as
// modules initialised only when imported, so a worker never runs the master's code (CLI
// parsing, the arbiter, admin and metrics, cgroups) and the master never runs the worker's.
import { isMainThread } from 'node:worker_threads';
import { WORKER_ENV } from '../ipc';

const crash = (who: string) => (err: unknown) => {
  process.stderr.write(`${who}: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
};

if (process.env[WORKER_ENV] || !isMainThread) {
  // A worker of the binary, or of narwhal-main.js run alone (dist/ starts workers from narwhal-worker.js);
  // or a thread of such a worker (--threads).
  void import('./worker');
} else if (process.argv[2] === 'ctl') {
  // `narwhal ctl …`: a client of a running master's control socket (ctl.ts).
  import('../ctl').then(({ runCtl }) => runCtl(process.argv.slice(3))).catch(crash('narwhal ctl'));
} else if (process.argv[2] === '--healthcheck') {
  // The image's HEALTHCHECK probe (healthcheck.ts): no master, no config.
  import('../healthcheck')
    .then(({ healthcheck, healthcheckUrl }) => healthcheck(healthcheckUrl(process.argv[3], process.env)))
    .then((code) => process.exit(code), crash('narwhal healthcheck'));
} else {
  import('./master').then(({ main }) => main(process.argv.slice(2))).catch(crash('narwhal'));
}
