// Limits: thousands of idle keep-alive connections, a low file-descriptor limit, a seeded fuzzer
// sending mutated requests from the conformance corpus, and clients that dribble their headers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { CLI, FIXTURES, sleep, startServer, waitFor } from '../helpers/server.mjs';
import { corpusFiles, statuses } from '../helpers/corpus.mjs';
import { probe } from '../helpers/traffic.mjs';
import { seeded, socketCount } from './common.mjs';

const PID_APP = join(FIXTURES, 'pid.js');
const OK_APP = join(FIXTURES, 'faults.js');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0; };

/** Worker exits the master logged (a crash, a kill), which none of these scenarios may cause. */
const workerExits = (server) => server.log.split('\n').filter((l) => /Worker \(pid:\d+\) (exited|was sent|was killed)/.test(l));

/**
 * Opens a connection, sends one GET and waits for its answer; resolves the socket (kept open,
 * idle) or null if the server closed or refused it first. `closed` counts later closes.
 */
function idleConnection(port, counters, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let answered = false;
    const timer = setTimeout(() => { socket.destroy(); resolve(null); }, timeoutMs);
    socket.on('data', (d) => {
      data += d;
      if (!answered && /pid=\d+\n/.test(data)) {
        answered = true;
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      if (answered) counters.closedLater++;
      else resolve(null);
    });
    socket.write('GET / HTTP/1.1\r\nHost: idle\r\n\r\n');
  });
}

async function openIdle(port, n, batch, counters) {
  const sockets = [];
  for (let i = 0; i < n; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => idleConnection(port, counters)));
    for (const s of opened) if (s) sockets.push(s);
  }
  return sockets;
}

async function probes(port, n, concurrency = 5) {
  const results = [];
  for (let i = 0; i < n; i += concurrency) {
    results.push(...await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => probe({ port, timeoutMs: 5000 }))));
  }
  return { ok: results.filter((r) => r.status === 200).length, total: n, ms: results.filter((r) => r.status === 200).map((r) => r.ms) };
}

/** This process's open-files limit, raised to the hard limit when below `needed` (prlimit). */
function ensureFileLimit(needed) {
  const read = () => {
    const [soft, hard] = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8')).slice(1).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
    return { soft, hard };
  };
  let { soft, hard } = read();
  if (soft < needed && hard > soft) {
    spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`]);
    ({ soft } = read());
  }
  return soft;
}

/**
 * 5 000 idle keep-alive connections (each served one request) held open on 2 workers while
 * new requests keep coming; then closed, and the workers' sockets go back to what they were.
 */
export async function idleConnections(profile) {
  const wanted = profile.idleConnections;
  const limit = ensureFileLimit(wanted + 500);
  const held = Math.min(wanted, limit - 500);
  // worker_connections (1000 by default, as Gunicorn) is raised for this many, as docs/security.md
  // tells apps that hold many idle connections to.
  const perWorker = String(Math.ceil(held / 2) + 500);
  const server = await startServer(['-w', '2', '--keep-alive', '300', '--worker-connections', perWorker, PID_APP], { workers: 2 });
  const violations = [];
  try {
    const workers = server.workers();
    const baseline = workers.map(socketCount);
    const counters = { closedLater: 0 };
    const started = Date.now();
    const sockets = await openIdle(server.port, held, 250, counters);
    const openMs = Date.now() - started;
    if (sockets.length < held) violations.push(`only ${sockets.length} of ${held} connections were answered`);
    const during = await probes(server.port, 100);
    if (during.ok < during.total) violations.push(`${during.total - during.ok} of ${during.total} new requests failed while ${sockets.length} connections were held`);
    if (counters.closedLater > 0) violations.push(`${counters.closedLater} idle connections were closed by the server`);
    for (const s of sockets) s.destroy();
    await waitFor(() => workers.every((pid, i) => socketCount(pid) <= baseline[i] + 2), 15_000, 'worker sockets back to their baseline');
    if (workerExits(server).length > 0) violations.push(`workers exited: ${workerExits(server).join(' | ')}`);
    return {
      name: `exhaustion: ${held} idle keep-alive connections held open on 2 workers${held < wanted ? ` (the file limit allows ${held} of ${wanted})` : ''}`,
      figures: {
        held: sockets.length, openMs, newRequests: `${during.ok}/${during.total}`,
        newRequestP50Ms: Math.round(median(during.ms)), newRequestMaxMs: Math.round(Math.max(0, ...during.ms)),
      },
      violations,
    };
  } finally {
    await server.stop();
  }
}

/**
 * narwhal started with `ulimit -n 200`: 600 idle connections (more than the workers have
 * descriptors for). New connections wait or fail, no worker crashes, and once the idle ones
 * close, service is back.
 */
export async function lowFileLimit() {
  const limit = 200;
  const server = await startServer(['-w', '2', '--keep-alive', '300', PID_APP], {
    workers: 2, bin: 'prlimit', binArgs: [`--nofile=${limit}:${limit}`, process.execPath, CLI],
  });
  const violations = [];
  try {
    const workers = server.workers();
    const baseline = workers.map(socketCount);
    const counters = { closedLater: 0 };
    const sockets = await openIdle(server.port, 3 * limit, 50, counters);
    const during = await probes(server.port, 20);
    const closedLater = counters.closedLater;
    for (const s of sockets) s.destroy();
    await waitFor(() => workers.every((pid, i) => socketCount(pid) <= baseline[i] + 2), 15_000, 'worker sockets back to their baseline').catch(() => {});
    const after = await probes(server.port, 50);
    if (after.ok < after.total) violations.push(`after the idle connections closed, ${after.total - after.ok} of ${after.total} requests failed`);
    if (workerExits(server).length > 0) violations.push(`workers exited: ${workerExits(server).join(' | ')}`);
    if (server.workers().join() !== workers.join()) violations.push(`worker set changed: ${workers} -> ${server.workers()}`);
    if (server.child.exitCode !== null) violations.push('the master exited');
    return {
      name: `exhaustion: ulimit -n ${limit}, ${3 * limit} idle connections on 2 workers`,
      figures: {
        held: sockets.length, refused: 3 * limit - sockets.length, closedLater,
        newRequestsWhileFull: `${during.ok}/${during.total}`, newRequestsAfter: `${after.ok}/${after.total}`,
        workerExits: workerExits(server).length,
      },
      violations,
    };
  } finally {
    await server.stop();
  }
}

// ---- fuzzing ------------------------------------------------------------------------------

/** One mutation of `bytes`: byte flips, truncation, duplication, or a huge value. */
function mutate(bytes, rnd) {
  let b = Buffer.from(bytes);
  const ops = 1 + rnd.int(3);
  for (let i = 0; i < ops; i++) {
    switch (rnd.int(6)) {
      case 0: { // flip a few bytes
        for (let k = 1 + rnd.int(4); k > 0 && b.length > 0; k--) b[rnd.int(b.length)] ^= 1 + rnd.int(255);
        break;
      }
      case 1: // truncate
        b = b.subarray(0, rnd.int(b.length + 1));
        break;
      case 2: { // duplicate a slice, or the whole request (pipelining)
        const from = rnd.int(b.length + 1);
        const slice = rnd.int(2) ? b : b.subarray(from, from + 1 + rnd.int(64));
        const copies = Array.from({ length: 1 + rnd.int(8) }, () => slice);
        b = Buffer.concat([b.subarray(0, from), ...copies, b.subarray(from)]);
        break;
      }
      case 3: { // a huge header value after the request line
        const eol = b.indexOf('\r\n');
        const at = eol < 0 ? b.length : eol + 2;
        const huge = Buffer.from(`X-Huge: ${'a'.repeat(1 << (8 + rnd.int(10)))}\r\n`);
        b = Buffer.concat([b.subarray(0, at), huge, b.subarray(at)]);
        break;
      }
      case 4: // a huge number (Content-Length, chunk size, port)
        b = Buffer.from(b.toString('latin1').replace(/\d+/, '9'.repeat(1 + rnd.int(40))), 'latin1');
        break;
      default: { // a huge request target
        const sp = b.indexOf(' ');
        if (sp >= 0) b = Buffer.concat([b.subarray(0, sp + 1), Buffer.from(`/${'x'.repeat(1 << (8 + rnd.int(9)))}`), b.subarray(sp + 1)]);
      }
    }
  }
  return b;
}

/**
 * Sends `bytes` on a new connection (half-closing after, unless `keepOpen`) and waits until the
 * server closes it, or has answered and gone quiet; resolves what came back and when.
 */
function exchange(port, bytes, { keepOpen, deadlineMs }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    let quiet = null;
    let settled = false;
    const finish = (how) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(quiet);
      socket.destroy();
      resolve({ how, ms: Date.now() - started, reply: Buffer.concat(chunks).toString('latin1') });
    };
    const deadline = setTimeout(() => finish(chunks.length > 0 ? 'answered' : 'open'), deadlineMs);
    socket.on('data', (c) => {
      chunks.push(c);
      clearTimeout(quiet);
      // Answered and quiet: a keep-alive connection waiting for the next request.
      quiet = setTimeout(() => finish('answered'), 300);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish('closed'));
    if (keepOpen) socket.write(bytes); else socket.end(bytes);
  });
}

/**
 * `fuzzRequests` requests mutated (seeded) from ../shared/conformance, 64 connections at a time,
 * to 2 workers with --header-timeout 2 --request-timeout 3. Expect no worker crash, no 5xx, and
 * every connection answered or closed by the server within the request timeout (plus slack).
 */
export async function fuzz(profile, { seed = 20261201 } = {}) {
  const rnd = seeded(seed);
  const corpus = [...corpusFiles('valid'), ...corpusFiles('invalid')].map((f) => f.bytes);
  const headerTimeout = 2;
  const requestTimeout = 3;
  const server = await startServer(['-w', '2', '--header-timeout', String(headerTimeout), '--request-timeout', String(requestTimeout), OK_APP], { workers: 2 });
  const violations = [];
  try {
    const workers = server.workers();
    const counts = { answered: 0, closedWithoutAnswer: 0, open: 0, keptOpen: 0 };
    const byStatus = {};
    const fivexx = [];
    let maxOpenMs = 0;
    let next = 0;
    const deadlineMs = (requestTimeout + 1 + 4) * 1000;
    const lane = async () => {
      while (next < profile.fuzzRequests) {
        const i = next++;
        const bytes = mutate(rnd.pick(corpus), rnd);
        // Most half-close (the end of input is part of what is fuzzed); some stay open, so
        // that only the server's timeouts can end them.
        const keepOpen = rnd.int(100) < 3;
        if (keepOpen) counts.keptOpen++;
        const r = await exchange(server.port, bytes, { keepOpen, deadlineMs });
        const codes = statuses(r.reply);
        for (const c of codes) byStatus[c] = (byStatus[c] ?? 0) + 1;
        if (codes.some((c) => c >= 500)) fivexx.push(`#${i}: ${JSON.stringify(bytes.subarray(0, 120).toString('latin1'))} -> ${codes}`);
        if (r.how === 'open') counts.open++;
        else if (codes.length > 0) counts.answered++;
        else counts.closedWithoutAnswer++;
        if (r.how === 'closed') maxOpenMs = Math.max(maxOpenMs, r.ms);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 64 }, lane));
    const seconds = (Date.now() - started) / 1000;
    if (fivexx.length > 0) violations.push(`${fivexx.length} 5xx answers: ${fivexx.slice(0, 3).join(' | ')}`);
    if (counts.open > 0) violations.push(`${counts.open} connections neither answered nor closed within ${deadlineMs / 1000} s`);
    if (workerExits(server).length > 0) violations.push(`workers exited: ${workerExits(server).slice(0, 3).join(' | ')}`);
    if (server.workers().join() !== workers.join()) violations.push(`worker set changed: ${workers} -> ${server.workers()}`);
    const after = await probe({ port: server.port });
    if (after.status !== 200) violations.push(`a normal request after the fuzzing got ${after.status ?? after.error}`);
    return {
      name: `fuzzing: ${profile.fuzzRequests} requests mutated from the conformance corpus (seed ${seed}), --header-timeout ${headerTimeout} --request-timeout ${requestTimeout}`,
      figures: {
        sent: profile.fuzzRequests, ...counts, status408: byStatus[408] ?? 0, status4xx: Object.entries(byStatus).filter(([s]) => s[0] === '4').reduce((n, [, c]) => n + c, 0),
        status2xx: Object.entries(byStatus).filter(([s]) => s[0] === '2').reduce((n, [, c]) => n + c, 0), status5xx: fivexx.length,
        longestToCloseMs: maxOpenMs, seconds: Math.round(seconds),
      },
      violations,
    };
  } finally {
    await server.stop();
  }
}

// ---- slow clients -------------------------------------------------------------------------

/**
 * A client that sends a request line, then one byte of a header every 500 ms, forever; resolves
 * when the server closes it, with how long that took and whether it said 408 first.
 */
function dribbler(port, stopAt) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    let timer = null;
    const text = `X-Slow: ${'z'.repeat(4096)}`;
    let i = 0;
    const done = (closedByServer) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ closedByServer, ms: Date.now() - started, status408: reply.startsWith('HTTP/1.1 408') });
    };
    socket.on('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: slow\r\n');
      timer = setInterval(() => {
        if (Date.now() > stopAt) return done(false);
        socket.write(text[i++ % text.length]);
      }, 500);
    });
    socket.on('data', (d) => { reply += d; });
    socket.on('error', () => {});
    socket.on('close', () => done(true));
  });
}

/**
 * 1 000 connections dribbling their headers for `slowSeconds` (each replaced when the server
 * closes it), --header-timeout 3, while normal requests keep coming. Expect every normal request
 * answered, and every dribbler closed by the server after the header timeout.
 */
export async function slowClients(profile) {
  const headerTimeout = 3;
  const server = await startServer(['-w', '2', '--header-timeout', String(headerTimeout), PID_APP], { workers: 2 });
  const violations = [];
  try {
    const seconds = Math.max(profile.slowSeconds, headerTimeout + 3);
    const endAt = Date.now() + seconds * 1000;
    // A dribbler the server has not closed 30 s after the end gives up (and counts against it).
    const stopAt = endAt + 30_000;
    const finished = [];
    const slot = async () => {
      while (Date.now() < endAt) finished.push(await dribbler(server.port, stopAt));
    };
    const slots = [];
    for (let i = 0; i < profile.slowClients; i += 100) {
      for (let k = 0; k < 100 && i + k < profile.slowClients; k++) slots.push(slot());
      await sleep(50);
    }
    const normal = [];
    while (Date.now() < endAt) {
      normal.push(await probe({ port: server.port, timeoutMs: 10_000 }));
      await sleep(200);
    }
    await Promise.all(slots);
    const ok = normal.filter((r) => r.status === 200);
    const byServer = finished.filter((f) => f.closedByServer);
    if (ok.length < normal.length) violations.push(`${normal.length - ok.length} of ${normal.length} normal requests failed: ${normal.find((r) => r.status !== 200)?.error}`);
    if (byServer.length < finished.length) violations.push(`${finished.length - byServer.length} dribbling connections were never closed by the server`);
    if (workerExits(server).length > 0) violations.push(`workers exited: ${workerExits(server).join(' | ')}`);
    const closeMs = byServer.map((f) => f.ms);
    return {
      name: `slow clients: ${profile.slowClients} connections dribbling headers for ${seconds} s, --header-timeout ${headerTimeout}`,
      figures: {
        dribblers: finished.length, closedByServer: byServer.length, answered408: finished.filter((f) => f.status408).length,
        closedAfterMedianMs: median(closeMs), closedAfterMaxMs: Math.max(0, ...closeMs),
        normalRequests: `${ok.length}/${normal.length}`, normalP50Ms: Math.round(median(ok.map((r) => r.ms))), normalP99Ms: Math.round(quantile(ok.map((r) => r.ms), 0.99)),
      },
      violations,
    };
  } finally {
    await server.stop();
  }
}
