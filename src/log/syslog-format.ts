// A syslog message as RFC 3164 writes it, the form every receiver parses (rsyslog, syslog-ng,
// journald's /dev/log, Fluent Bit, Vector):
//   <PRI>Dec  3 13:05:43 HOSTNAME narwhal[4242]: Booting worker with pid: 4243
// PRI = facility * 8 + severity. Pure: the sockets are syslog.ts's.
import type { LogLevel } from '../config/settings';
import { SYSLOG_FACILITIES, type SyslogFacility } from './collector-address';

/** RFC 5424 severities of the log levels (warning 4, error 3, critical 2). */
const SEVERITY: Record<LogLevel, number> = { debug: 7, info: 6, warning: 4, error: 3, critical: 2 };

export const pri = (facility: SyslogFacility, level: LogLevel): number => SYSLOG_FACILITIES[facility] * 8 + SEVERITY[level];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 3164's TIMESTAMP: local time, the day padded with a space ("Dec  3 13:05:43"). */
export function syslogTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** One message; `host` null on a local socket (as glibc's syslog() leaves it out). */
export function syslogLine(p: number, tag: string, message: string, host: string | null, now = new Date(), pid = process.pid): string {
  return `<${p}>${syslogTime(now)} ${host === null ? '' : `${host} `}${tag}[${pid}]: ${message}`;
}
