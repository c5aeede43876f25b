// How should connections reach workers? Measures narwhal's distribution modes against a
// hand-written node:cluster script and a single Node process, in the same run.
//   node bench/distribution.mjs [--rounds 3] [--seconds 5] [--workers 2] [--bin dist/narwhal] [--behind nginx]
// Keep-alive load (wrk -t1 -c64) and connection-per-request load (Connection: close); with
// --behind nginx, wrk loads an nginx (one worker process) whose upstream keepalive pool (64
// connections) is what reaches the servers, as a proxied deployment looks.
// "spread" is the smallest worker's share of requests divided by a fair share (1.00 = even).
import { join } from 'node:path';
import { freePort, loadOnce, median, readCounts, countsFile, startVariant, ROOT, hasWrk } from './lib.mjs';
import { startNginx } from '../test/helpers/proxies.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const rounds = Number(arg('rounds', 3));
const seconds = Number(arg('seconds', 5));
const workers = Number(arg('workers', 2));
const bin = arg('bin', null);
const behind = arg('behind', null);
if (behind !== null && behind !== 'nginx') throw new Error(`--behind: only nginx, not ${behind}`);
const app = join(ROOT, 'bench', 'apps', 'hello.js');
const narwhal = (mode, extra = []) => (port) => ({
  cmd: bin ? join(ROOT, bin) : process.execPath,
  args: [...(bin ? [] : [join(ROOT, 'dist', 'narwhal.js')]), '-w', String(workers), '-b', `127.0.0.1:${port}`, '--distribution', mode, ...extra, app],
});
const nodeMajor = Number(process.versions.node.split('.')[0]);
const variants = [
  ['node single process', (port) => ({ cmd: process.execPath, args: [join(ROOT, 'bench/peers/single.js'), String(port)] }), 1],
  ['node:cluster round-robin (hand-written)', (port) => ({ cmd: process.execPath, args: [join(ROOT, 'bench/peers/cluster.js'), String(port), String(workers), 'rr'] }), workers],
  ['node:cluster shared socket (hand-written)', (port) => ({ cmd: process.execPath, args: [join(ROOT, 'bench/peers/cluster.js'), String(port), String(workers), 'none'] }), workers],
  ['narwhal round-robin', narwhal('round-robin'), workers],
  ['narwhal shared', narwhal('shared'), workers],
  // The balance off: where the kernel puts each connection is where it stays.
  ['narwhal shared, --balance-connections off', narwhal('shared', ['--balance-connections', 'off']), workers],
  // libuv accepts one connection per wake-up, then yields, so a burst is shared out (issue 23).
  ['narwhal shared, UV_TCP_SINGLE_ACCEPT=1', (port) => ({ ...narwhal('shared')(port), env: { UV_TCP_SINGLE_ACCEPT: '1' } }), workers],
];
if (bin || nodeMajor >= 23 || (nodeMajor === 22 && Number(process.versions.node.split('.')[1]) >= 12)) {
  variants.push(['narwhal reuseport', narwhal('reuseport'), workers]);
}

const results = new Map();
for (let round = 0; round < rounds; round++) {
  for (const [name, make, procs] of variants) {
    for (const close of [false, true]) {
      const port = await freePort();
      const counts = countsFile(`${round}-${close}`);
      const spec = make(port);
      const v = await startVariant({ ...spec, port, env: { ...spec.env, BENCH_COUNTS: counts } });
      const front = behind ? await startNginx({ port: await freePort(), upstream: `127.0.0.1:${port}`, keepalive: 64 }) : null;
      const target = front ? front.port : port;
      await loadOnce(target, { seconds: 1, close }); // warm-up
      const r = await loadOnce(target, { seconds, close });
      await front?.stop();
      await v.stop();
      const per = readCounts(counts);
      const spread = per.length >= procs && procs > 1 ? Math.min(...per) / (per.reduce((a, b) => a + b, 0) / procs) : per.length === procs ? 1 : 0;
      const key = `${name}|${close}`;
      if (!results.has(key)) results.set(key, { rps: [], spread: [] });
      results.get(key).rps.push(r.rps);
      results.get(key).spread.push(spread);
      process.stderr.write(`round ${round + 1} ${name} ${close ? 'close' : 'keep-alive'}: ${Math.round(r.rps)} req/s, spread ${spread.toFixed(2)} ${r.errors ? `errors ${r.errors}` : ''}\n`);
    }
  }
}

const base = (close) => median(results.get(`node single process|${close}`).rps);
console.log(`\n${workers} workers, ${hasWrk() ? 'wrk -t1 -c64' : 'autocannon -c64'}${behind ? ' through nginx (upstream keepalive 64)' : ''}, ${seconds}s x ${rounds} rounds, medians; Node ${process.version}${bin ? `, binary ${bin}` : ''}\n`);
console.log('| variant | keep-alive req/s | ratio | spread | Connection: close req/s | ratio | spread |');
console.log('|---|---|---|---|---|---|---|');
for (const [name] of variants) {
  const ka = results.get(`${name}|false`);
  const cl = results.get(`${name}|true`);
  console.log(`| ${name} | ${Math.round(median(ka.rps))} | ${(median(ka.rps) / base(false)).toFixed(2)} | ${median(ka.spread).toFixed(2)} | ${Math.round(median(cl.rps))} | ${(median(cl.rps) / base(true)).toFixed(2)} | ${median(cl.spread).toFixed(2)} |`);
}
