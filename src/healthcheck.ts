// `narwhal --healthcheck [URL]`: a probe for Docker's HEALTHCHECK in images with no curl or
// wget (distroless). GETs URL (default: /healthz on the admin address from NARWHAL_ADMIN_BIND,
// else 127.0.0.1:9000); exit 0 on a 2xx within 3 s, else 1. It starts no master.
import http from 'node:http';
import { parseAddress, type ParsedAddress } from './http/listeners';

export function healthcheckUrl(arg: string | undefined, env: NodeJS.ProcessEnv): string {
  if (arg && /^https?:\/\//.test(arg)) return arg;
  let address: ParsedAddress | null = null;
  try {
    address = parseAddress(env.NARWHAL_ADMIN_BIND || '127.0.0.1:9000');
  } catch { /* not HOST:PORT: probe the default */ }
  const tcp = address?.kind === 'tcp' ? address : { host: '127.0.0.1', port: 9000 };
  // A wildcard bind is probed on loopback.
  const host = tcp.host === '0.0.0.0' ? '127.0.0.1' : tcp.host === '::' ? '::1' : tcp.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${tcp.port}${arg?.startsWith('/') ? arg : '/healthz'}`;
}

export function healthcheck(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 3000 }, (res) => {
      res.resume();
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
      if (!ok) process.stderr.write(`narwhal --healthcheck: ${url}: HTTP ${res.statusCode}\n`);
      resolve(ok ? 0 : 1);
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 3 s')));
    req.on('error', (err) => {
      process.stderr.write(`narwhal --healthcheck: ${url}: ${err.message}\n`);
      resolve(1);
    });
  });
}
