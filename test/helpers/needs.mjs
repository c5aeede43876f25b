// What a test needs from the machine (root, a Docker engine, a program): where something is
// missing the test is skipped with ONE line saying what was skipped and why, so that
// `npm ci && npm test` passes on a newcomer's machine. CI (CI=true; .ci/run installs
// everything) skips nothing: there a missing need fails the test instead.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of PROGRAM on PATH (or the path itself when absolute), or null. */
export function which(program) {
  if (program.startsWith('/')) return existsSync(program) ? program : null;
  try {
    return execFileSync('sh', ['-c', 'command -v "$0"', program], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Why the needs are not met here (empty: they are). `programs`: names, or [name, Debian package]. */
export function missing({ root = false, docker = false, programs = [] } = {}) {
  const why = [];
  if (root && process.getuid?.() !== 0) why.push(`root (running as uid ${process.getuid?.()})`);
  if (docker) {
    if (process.getuid?.() !== 0) why.push(`root for a private Docker engine (running as uid ${process.getuid?.()})`);
    if (!existsSync('/usr/sbin/dockerd')) why.push('/usr/sbin/dockerd (apt-get install docker.io)');
    if (!existsSync('/usr/bin/docker') && !which('docker')) why.push('a docker client (apt-get install docker.io)');
  }
  for (const entry of programs) {
    const [program, pkg] = Array.isArray(entry) ? entry : [entry, null];
    if (!which(program)) why.push(`${program}${pkg ? ` (apt-get install ${pkg})` : ''}`);
  }
  return why;
}

/**
 * True when the test can run (`file`: the test's path or import.meta.url). Otherwise prints `  SKIP file › name: needs …` and returns false,
 * or, in CI, throws: there everything is installed and a skip would hide a broken setup.
 */
export function runnable(file, name, needs) {
  const why = missing(needs);
  if (why.length === 0) return true;
  const line = `${basename(file.startsWith('file:') ? fileURLToPath(file) : file)} › ${name}: needs ${why.join(', ')}`;
  if (process.env.CI) throw new Error(`CI must run every test, but ${line}`);
  console.log(`\n  SKIP ${line}`);
  return false;
}
