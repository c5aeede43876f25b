// A private Docker engine for the image test: Debian's dockerd with the flags that leave the
// host's network alone, everything (data, exec root, pidfile, socket) under a temp dir, its
// containers under a cgroup parent of its own; stopped by PID, its leftovers removed.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './binary.mjs';

export const DOCKERD = '/usr/sbin/dockerd';
/** Debian's client, matching its engine (another `docker` may come first on PATH). */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export async function startEngine() {
  const dir = mkdtempSync(join(tmpdir(), 'narwhal-dockerd-'));
  const cgroupParent = `narwhal-test-${process.pid}`;
  const engine = {
    dir,
    cgroupParent,
    socket: join(dir, 'docker.sock'),
    log: '',
    env: { ...process.env, DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'client') },
  };
  const child = spawn(DOCKERD, [
    '--bridge=none', '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--userland-proxy=false',
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
    '-H', `unix://${engine.socket}`, '--cgroup-parent', `/${cgroupParent}`, '--log-level', 'error',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  engine.child = child;
  engine.pid = child.pid;
  child.stdout.on('data', (d) => { engine.log += d; });
  child.stderr.on('data', (d) => { engine.log += d; });
  engine.exit = new Promise((resolve) => child.on('exit', resolve));
  const end = Date.now() + 30_000;
  for (;;) {
    if (existsSync(engine.socket) && (await docker(engine, ['version', '--format', '{{.Server.Version}}']).then(() => true, () => false))) break;
    if (child.exitCode !== null || Date.now() > end) {
      await stopEngine(engine);
      throw new Error(`dockerd did not start:\n${engine.log}`);
    }
    await sleep(200);
  }
  return engine;
}

/** Runs the docker client against the engine; resolves stdout, rejects with its output. */
export function docker(engine, args, { input, timeoutMs = 60_000, stderr: withStderr = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(DOCKER, args, { env: engine.env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`docker ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve((withStderr ? stdout + stderr : stdout).trim());
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

/** Runs a shell script of the repo's (docker/*.sh) against the engine. */
export function script(engine, file, args, { cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    // Debian's client first on PATH, like DOCKER above.
    const env = { ...engine.env, PATH: `/usr/bin:${process.env.PATH}` };
    execFile(file, args, { cwd, env, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Stops the engine by PID (TERM, then KILL), unmounts what it left, removes its cgroups. */
export async function stopEngine(engine) {
  if (!engine) return;
  if (engine.child.exitCode === null && engine.child.signalCode === null) {
    try { process.kill(engine.pid, 'SIGTERM'); } catch { /* gone */ }
    const done = await Promise.race([engine.exit.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) {
      try { process.kill(engine.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([engine.exit, sleep(5000)]);
    }
  }
  // Mounts left under the temp dir (the default netns file), deepest first.
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(engine.dir)).sort().reverse();
  for (const m of mounts) await new Promise((r) => execFile('umount', ['-l', m], () => r()));
  rmSync(engine.dir, { recursive: true, force: true });
  // The cgroups made for the containers, in every v1 hierarchy (and the v2 one), deepest first.
  const base = '/sys/fs/cgroup';
  const dirs = [];
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      try { if (statSync(p).isDirectory()) { walk(p); dirs.push(p); } } catch { /* raced */ }
    }
  };
  for (const h of existsSync(base) ? readdirSync(base) : []) {
    const top = join(base, h, engine.cgroupParent);
    if (existsSync(top)) {
      walk(top);
      dirs.push(top);
    }
  }
  for (const d of dirs) try { rmdirSync(d); } catch { /* not empty: a process still in it */ }
}
