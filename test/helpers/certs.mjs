// Throwaway TLS material for tests, made with the openssl CLI: a self-signed certificate for
// 127.0.0.1 and its key, plus a second key that is not its key.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function makeCertificate(dir) {
  const openssl = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  openssl(['genrsa', '-out', 'other-key.pem', '2048']);
  const cert = join(dir, 'cert.pem');
  return { cert, key: join(dir, 'key.pem'), otherKey: join(dir, 'other-key.pem'), ca: readFileSync(cert) };
}
