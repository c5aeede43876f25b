// Throwaway TLS material for tests, made with the openssl CLI: a self-signed certificate for
// 127.0.0.1 and its key, plus a second key that is not its key; and for mutual TLS, CAs and the
// server and client certificates they sign.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const run = (dir, args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });

export function makeCertificate(dir) {
  run(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  run(dir, ['genrsa', '-out', 'other-key.pem', '2048']);
  const cert = join(dir, 'cert.pem');
  return { cert, key: join(dir, 'key.pem'), otherKey: join(dir, 'other-key.pem'), ca: readFileSync(cert) };
}

/** A CA named `name` (files NAME-ca.pem, NAME-ca-key.pem); `subject` as openssl writes it. */
export function makeCa(dir, name, subject = `/O=narwhal tests/CN=${name} CA`) {
  run(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', `${name}-ca-key.pem`, '-out', `${name}-ca.pem`, '-subj', subject,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { name, cert: join(dir, `${name}-ca.pem`), key: join(dir, `${name}-ca-key.pem`), pem: readFileSync(join(dir, `${name}-ca.pem`)) };
}

/**
 * A certificate signed by `ca` (files NAME.pem, NAME-key.pem): a server certificate for
 * 127.0.0.1, or with `client` one for TLS client authentication. Resolves paths and PEM contents.
 */
export function makeSigned(dir, ca, name, { subject = `/O=narwhal tests/CN=${name}`, client = false } = {}) {
  run(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}-key.pem`,
    '-out', `${name}.csr`, '-subj', subject]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, client ? 'extendedKeyUsage=clientAuth\n' : 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  run(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-out', `${name}.pem`, '-extfile', ext]);
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

/** `key` encrypted with `passphrase` (AES-256, PKCS#8) as NAME. */
export function encryptKey(dir, key, name, passphrase) {
  run(dir, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', key, '-out', name, '-passout', `pass:${passphrase}`]);
  return join(dir, name);
}
