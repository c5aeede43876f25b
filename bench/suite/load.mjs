// The load generators: wrk for HTTP/1.1 (and HTTPS), h2load for HTTP/2. One thread, a fixed
// number of connections, a fixed duration; traffic to 127.0.0.1 only. Results are parsed from
// their text output: req/s, latency p50/p99 (ms), errors (socket errors + non-2xx/3xx).
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const run = (cmd, args, timeoutMs) => new Promise((resolve, reject) => {
  execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
    if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
    else resolve(stdout);
  });
});

const toMs = (value, unit) => Number(value) * ({ us: 1e-3, ms: 1, s: 1000, m: 60000 }[unit] ?? NaN);

/** A wrk Lua script that POSTs BYTES bytes to PATH (written once into DIR). */
export function postScript(dir, bytes, path) {
  const file = join(dir, `post-${bytes}.lua`);
  writeFileSync(file, [
    `wrk.method = "POST"`,
    `wrk.path = "${path}"`,
    `wrk.body = string.rep("n", ${bytes})`,
    `wrk.headers["Content-Type"] = "application/octet-stream"`,
    '',
  ].join('\n'));
  return file;
}

/**
 * One wrk run. `load`: { url, close, script, connections, threads }. wrk's own latency percentiles
 * come from --latency.
 */
export async function wrk({ url, close = false, script = null, connections = 64, threads = 1 }, seconds) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s',
    ...(close ? ['-H', 'Connection: close'] : []), ...(script ? ['-s', script] : []), url];
  const out = await run('wrk', args, (seconds + 30) * 1000);
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out); return m ? toMs(m[1], m[2]) : NaN; };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  return { rps, requests, p50: pct(50), p99: pct(99), errors: socketErrors + non2xx, raw: out };
}

/**
 * One h2load run (HTTP/2 with prior knowledge over cleartext, or over TLS with ALPN). h2load
 * prints no percentiles: p50 is its mean request time, p99 is left empty.
 */
export async function h2load({ url, connections = 64, streams = 1 }, seconds) {
  const args = ['-t1', `-c${connections}`, `-m${streams}`, `-D${seconds}`, url];
  const out = await run('h2load', args, (seconds + 30) * 1000);
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  const done = req ? Number(req[3]) : NaN;
  const codes = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const errors = (req ? Number(req[5]) + Number(req[6]) + Number(req[7]) : 0) + (codes ? Number(codes[1]) + Number(codes[2]) : 0);
  return { rps, requests: done, p50: mean ? toMs(mean[1], mean[2]) : NaN, p99: NaN, errors, raw: out };
}

/** Whether CMD can be run at all (wrk --version exits 1, which still counts). */
export const hasCommand = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error?.code !== 'ENOENT';
