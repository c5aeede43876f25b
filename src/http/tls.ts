// TLS termination (Gunicorn's certfile / keyfile, ca_certs / cert_reqs, ciphers) and the
// protocols offered over it (http_protocols, by ALPN): workers serve HTTPS with what they read
// at boot. The master never serves TLS; before it binds (and on --check-config and HUP) it runs
// the same loadTls, so a bad combination of settings is one line and exit 2, and an unreadable
// or unusable file is one line and exit 1, rather than a pool of workers failing to boot.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type tls from 'node:tls';
import { ConfigError } from '../config/errors';
import type { Settings } from '../config/settings';
import { nodeCrypto, nodeTls } from '../platform/lazy-builtins';

/** The certificate and key could not be read or used: one line, exit 1 (like a bind error). */
export class TlsError extends Error {}

/** What a worker's TLS front is made with. */
export interface TlsConfig {
  /** For tls.createServer: certificate, key (and passphrase), CA, ciphers, versions, client certificates. */
  options: tls.TlsOptions;
  /** cert_reqs optional: a client certificate that does not verify ends its connection after the handshake. */
  verifyOptional: boolean;
  /** ALPN protocol names offered, in order of preference. */
  alpn: string[];
}

type TlsSettings = Pick<Settings, 'certfile' | 'keyfile' | 'keyfile_passphrase_file' | 'ca_certs' | 'cert_reqs' | 'ciphers' |
  'tls_min_version' | 'http_protocols' | 'http2_cleartext'>;

const ALPN_NAMES: Record<string, string> = { h2: 'h2', h1: 'http/1.1' };
/** The default of tls_min_version (and Node's): not "set" when it is this. */
const DEFAULT_MIN_VERSION = 'TLSv1.2';

/**
 * The TLS and protocol settings that do not fit together, refused before anything is read or
 * bound: exit 2, one line naming the setting.
 */
export function checkTlsSettings(settings: TlsSettings): void {
  if (settings.certfile && !settings.keyfile) {
    throw new ConfigError(`missing keyfile: certfile is set (${settings.certfile}) and needs keyfile, the PEM private key (--keyfile FILE)`);
  }
  if (settings.keyfile && !settings.certfile) {
    throw new ConfigError(`missing certfile: keyfile is set (${settings.keyfile}) and needs certfile, the PEM certificate (--certfile FILE)`);
  }
  if (!settings.certfile) {
    const set = ([
      ['keyfile_passphrase_file', settings.keyfile_passphrase_file],
      ['ca_certs', settings.ca_certs],
      ['cert_reqs', settings.cert_reqs === 'none' ? null : settings.cert_reqs],
      ['ciphers', settings.ciphers],
      ['tls_min_version', settings.tls_min_version === DEFAULT_MIN_VERSION ? null : settings.tls_min_version],
    ] as const).find(([, value]) => value !== null);
    if (set) throw new ConfigError(`${set[0]} is set (${set[1]}) but TLS is off: it needs certfile and keyfile (--certfile FILE --keyfile FILE)`);
  } else {
    if (settings.cert_reqs !== 'none' && !settings.ca_certs) {
      throw new ConfigError(`cert_reqs is ${settings.cert_reqs} but ca_certs is not set: give the PEM CA certificates that sign the client certificates (--ca-certs FILE)`);
    }
    if (settings.ca_certs && settings.cert_reqs === 'none') {
      throw new ConfigError(`ca_certs is set (${settings.ca_certs}) but cert_reqs is none, so no client certificate is asked for: set cert_reqs to optional or required (--cert-reqs required)`);
    }
    // Node applies a cipher list without TLS 1.3 suites to TLS 1.2 only: with TLS 1.3 as the
    // minimum it would restrict nothing.
    if (settings.ciphers && settings.tls_min_version === 'TLSv1.3' && !settings.ciphers.split(':').some((c) => c.startsWith('TLS_'))) {
      throw new ConfigError(`ciphers (${settings.ciphers}) names no TLS 1.3 suite (TLS_*) but tls_min_version is TLSv1.3, so it would have no effect: add TLS 1.3 suites or lower tls_min_version`);
    }
    if (settings.http2_cleartext !== 'off') {
      throw new ConfigError(`http2_cleartext is ${settings.http2_cleartext} but certfile is set, so every bind speaks TLS: HTTP/2 is offered there by ALPN (http_protocols); drop http2_cleartext`);
    }
  }
  if (settings.http2_cleartext !== 'off' && !settings.http_protocols.includes('h2')) {
    throw new ConfigError(`http2_cleartext is ${settings.http2_cleartext} but http_protocols (${settings.http_protocols.join(',')}) has no h2: add h2 or drop http2_cleartext`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

function read(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsError(`cannot read ${name} ${path}: ${firstLine(err)}`);
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Node takes any bytes as `ca` (it skips what is not PEM): check there is something to trust. */
function checkCaBundle(ca: Buffer, path: string): void {
  const blocks = ca.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsError(`invalid ca_certs ${path}: no PEM certificate in it`);
  for (const block of blocks) {
    try {
      new (nodeCrypto().X509Certificate)(block);
    } catch (err) {
      throw new TlsError(`invalid ca_certs ${path}: a certificate Node cannot read (${firstLine(err)})`);
    }
  }
}

const isEncryptedKey = (key: Buffer): boolean => /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key.toString('latin1'));

/**
 * Turns the TLS settings into what the workers' TLS front needs, reading every file (paths
 * relative to `cwd`) and checking that Node accepts each and all together; null when TLS is
 * off. Throws ConfigError (settings that do not fit together) or TlsError (a file).
 */
export function loadTls(settings: TlsSettings, cwd = process.cwd()): TlsConfig | null {
  checkTlsSettings(settings);
  if (!settings.certfile || !settings.keyfile) return null;
  const certPath = resolve(cwd, settings.certfile);
  const keyPath = resolve(cwd, settings.keyfile);
  const cert = read('certfile', certPath);
  const key = read('keyfile', keyPath);
  let passphrase: string | undefined;
  if (settings.keyfile_passphrase_file) {
    const path = resolve(cwd, settings.keyfile_passphrase_file);
    passphrase = read('keyfile_passphrase_file', path).toString('utf8').replace(/\r?\n$/, '');
  } else if (isEncryptedKey(key)) {
    throw new ConfigError(`keyfile ${keyPath} is encrypted and keyfile_passphrase_file is not set: give the file holding its passphrase (--keyfile-passphrase-file FILE)`);
  }
  try {
    nodeTls().createSecureContext({ cert });
  } catch (err) {
    throw new TlsError(`invalid certfile ${certPath}: not a PEM certificate Node can use (${firstLine(err)})`);
  }
  try {
    nodeTls().createSecureContext({ key, passphrase });
  } catch (err) {
    if (passphrase !== undefined && isEncryptedKey(key)) {
      throw new TlsError(`cannot decrypt keyfile ${keyPath} with the passphrase in keyfile_passphrase_file (${firstLine(err)})`);
    }
    throw new TlsError(`invalid keyfile ${keyPath}: not a PEM private key Node can use (${firstLine(err)})`);
  }
  try {
    nodeTls().createSecureContext({ cert, key, passphrase });
  } catch (err) {
    throw new TlsError(`keyfile ${keyPath} is not the private key of certfile ${certPath} (${firstLine(err)})`);
  }
  let ca: Buffer | undefined;
  if (settings.ca_certs) {
    const path = resolve(cwd, settings.ca_certs);
    ca = read('ca_certs', path);
    checkCaBundle(ca, path);
  }
  const options: tls.TlsOptions = {
    cert, key, passphrase, ca, minVersion: settings.tls_min_version,
    ...(settings.ciphers ? { ciphers: settings.ciphers } : {}),
    requestCert: settings.cert_reqs !== 'none',
    rejectUnauthorized: settings.cert_reqs === 'required',
  };
  try {
    nodeTls().createSecureContext(options);
  } catch (err) {
    throw new TlsError(`the TLS settings do not work together (${firstLine(err)})`);
  }
  const alpn = [...new Set(settings.http_protocols.map((p) => ALPN_NAMES[p]!))];
  return { options, verifyOptional: settings.cert_reqs === 'optional', alpn };
}
