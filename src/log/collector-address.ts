// Where the log and metric sinks send to, parsed: pure, no sockets (settings.ts validates with
// it, so the CLI loads no networking module to check a flag).

export interface HostPort {
  host: string;
  port: number;
}

/** HOST:PORT or [IPv6]:PORT; `defaultPort` when the port may be left out. Null if malformed. */
export function parseHostPort(raw: string, defaultPort?: number): HostPort | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s]+))(?::(\d{1,5}))?$/.exec(raw.trim());
  if (!m) return null;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port === undefined || port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** RFC 5424's facility codes, by the names syslog.conf uses. */
export const SYSLOG_FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10,
  ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

export type SyslogTarget = ({ kind: 'udp' | 'tcp' } & HostPort) | { kind: 'unix'; path: string };

/** udp://HOST[:PORT], tcp://HOST[:PORT] (port 514 if left out), unix://PATH or unix:PATH. Null if none of them. */
export function parseSyslogTarget(raw: string): SyslogTarget | null {
  const s = raw.trim();
  const unix = /^unix:(?:\/\/)?(\/[^/].*)$/.exec(s);
  if (unix) return { kind: 'unix', path: unix[1]! };
  const m = /^(udp|tcp):\/\/(.+)$/.exec(s);
  const at = m ? parseHostPort(m[2]!, 514) : null;
  return m && at ? { kind: m[1] as 'udp' | 'tcp', ...at } : null;
}
