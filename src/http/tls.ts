// TLS termination (Gunicorn's certfile / keyfile): workers serve HTTPS with the PEM certificate
// chain and private key they read at boot. The master never serves TLS; before it binds, it
// checks that both files are readable and that Node accepts them as a pair, so a bad
// certificate is one line and exit 1 rather than a pool of workers failing to boot.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import tls from 'node:tls';
import { ConfigError } from '../config/load';

/** The certificate and key could not be read or used: one line, exit 1 (like a bind error). */
export class TlsError extends Error {}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

interface TlsSettings {
  certfile: string | null;
  keyfile: string | null;
}

/** certfile and keyfile come together or not at all (exit 2, naming the one missing). */
export function checkTlsPair(settings: TlsSettings): void {
  if (settings.certfile && !settings.keyfile) {
    throw new ConfigError(`missing keyfile: certfile is set (${settings.certfile}) and needs keyfile, the PEM private key (--keyfile FILE)`);
  }
  if (settings.keyfile && !settings.certfile) {
    throw new ConfigError(`missing certfile: keyfile is set (${settings.keyfile}) and needs certfile, the PEM certificate (--certfile FILE)`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

function read(name: string, file: string, cwd: string): Buffer {
  const path = resolve(cwd, file);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsError(`cannot read ${name} ${path}: ${firstLine(err)}`);
  }
}

/**
 * Reads certfile and keyfile (paths relative to `cwd`) and checks that Node accepts them, each
 * and as a pair; null when TLS is off. Throws ConfigError (only one given) or TlsError.
 */
export function loadTls(settings: TlsSettings, cwd = process.cwd()): TlsFiles | null {
  checkTlsPair(settings);
  if (!settings.certfile || !settings.keyfile) return null;
  const cert = read('certfile', settings.certfile, cwd);
  const key = read('keyfile', settings.keyfile, cwd);
  const certPath = resolve(cwd, settings.certfile);
  const keyPath = resolve(cwd, settings.keyfile);
  try {
    tls.createSecureContext({ cert });
  } catch (err) {
    throw new TlsError(`invalid certfile ${certPath}: not a PEM certificate Node can use (${firstLine(err)})`);
  }
  try {
    tls.createSecureContext({ key });
  } catch (err) {
    throw new TlsError(`invalid keyfile ${keyPath}: not an unencrypted PEM private key Node can use (${firstLine(err)})`);
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsError(`keyfile ${keyPath} is not the private key of certfile ${certPath} (${firstLine(err)})`);
  }
  return { cert, key };
}
