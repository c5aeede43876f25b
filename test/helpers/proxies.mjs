// Real reverse proxies from Debian's packages (nginx-light, haproxy), run as children of the test
// with their configuration in a temp directory, listening on 127.0.0.1 only, stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Started, TempDirs, poll, sleep, writeFiles } from './proc.mjs';

const started = new Started();
const dirs = new TempDirs();
process.on('exit', () => { started.killAll(); dirs.removeAll(); });

const NGINX = '/usr/sbin/nginx';
const HAPROXY = '/usr/sbin/haproxy';

/** Why a proxy cannot run here (not installed), or null. */
export function missing(name) {
  const bin = name === 'nginx' ? NGINX : HAPROXY;
  return existsSync(bin) ? null : `${bin} is not installed (apt-get install ${name === 'nginx' ? 'nginx-light' : 'haproxy'})`;
}

function waitForPort(port, child, log, what) {
  return poll(() => new Promise((resolve) => {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${log()}`);
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { timeoutMs: 10_000, everyMs: 50, message: `${what} did not listen on ${port}:\n${log()}` });
}

function run(bin, args, dir, what) {
  const child = started.watch(spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child, exit, pid: child.pid, output: () => output, what,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exit;
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      const done = await Promise.race([exit, sleep(5000).then(() => null)]);
      if (!done) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      return exit;
    },
  };
}

/**
 * nginx in front of `upstream` ('127.0.0.1:PORT' or 'unix:/path'), with a pool of keep-alive
 * connections to it, as its docs recommend for proxied apps. Its access log holds each
 * response's status and the upstream's (`statuses()` reads them).
 */
export async function startNginx({ port, upstream, keepalive = 16 }) {
  const dir = dirs.make('narwhal-nginx-');
  writeFiles(dir, {
    'nginx.conf': `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 4096; }
http {
  log_format status '$status $upstream_status';
  access_log ${dir}/access.log status;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream narwhal {
    server ${upstream};
    keepalive ${keepalive};
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 100000;
    location / {
      proxy_pass http://narwhal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  });
  const check = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t failed:\n${check.stderr}`);
  const proxy = run(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], dir, 'nginx');
  await waitForPort(port, proxy.child, proxy.output, 'nginx');
  return {
    ...proxy, dir, port,
    /** Counts of nginx's own statuses ("200", "502"), and of error lines in its error log. */
    statuses() {
      const counts = {};
      const log = existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8') : '';
      for (const line of log.split('\n')) if (line) { const s = line.split(' ')[0]; counts[s] = (counts[s] ?? 0) + 1; }
      return counts;
    },
    errorLines() {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      return log.split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l));
    },
  };
}

/**
 * HAProxy in front of `servers` ([{ name, port, admin }]), health-checking each one's /readyz on
 * its admin port every `interMs`: a server is taken out after two failed checks and back after
 * one good one, as a Kubernetes readiness probe with failureThreshold 2 would.
 */
export async function startHaproxy({ port, servers, interMs = 200 }) {
  const dir = dirs.make('narwhal-haproxy-');
  const lines = servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check port ${s.admin} inter ${interMs} fall 2 rise 1`);
  writeFiles(dir, {
    'haproxy.cfg': `
global
  stats socket ${dir}/stats.sock mode 600 level admin
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
  # A check that is slow (a busy machine) is not a failed one: only an answer other than 200 is.
  timeout check 2s
  option http-keep-alive
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
${lines.join('\n')}
`,
  });
  const check = spawnSync(HAPROXY, ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c failed:\n${check.stdout}${check.stderr}`);
  const proxy = run(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], dir, 'haproxy');
  await waitForPort(port, proxy.child, proxy.output, 'haproxy');
  return {
    ...proxy, dir, port,
    /** Each server's state as HAProxy sees it: { a: 'UP', b: 'DOWN' }. */
    async serverStates() {
      const csv = await new Promise((resolve, reject) => {
        const s = net.connect(join(dir, 'stats.sock'));
        let data = '';
        s.on('data', (d) => { data += d; });
        s.on('end', () => resolve(data));
        s.on('error', reject);
        s.write('show stat\n');
      });
      const states = {};
      for (const row of csv.split('\n')) {
        const cols = row.split(',');
        if (cols[0] === 'app' && cols[1] !== 'BACKEND') states[cols[1]] = cols[17];
      }
      return states;
    },
  };
}
