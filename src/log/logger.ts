// The error log: Gunicorn's line format, so operators' log greps carry over:
//   [2026-11-24 14:27:00 +0000] [4242] [INFO] Booting worker with pid: 4243
// or, with --log-format json, one JSON object per line for container log pipelines:
//   {"time":"2026-11-24T14:27:00.123Z","level":"info","pid":4242,"message":"Booting worker with pid: 4243","worker":4243}
import type { LogFormat, LogLevel } from '../config/settings';
import { LogSink } from './sink';
import type { Syslog } from './syslog';

export const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
const LABEL: Record<LogLevel, string> = {
  debug: 'DEBUG', info: 'INFO', warning: 'WARNING', error: 'ERROR', critical: 'CRITICAL',
};

const pad = (n: number) => String(n).padStart(2, '0');

function timestamp(d = new Date()): string {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const tz = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz}`;
}

/** Structured context of a line (worker pid, signal, hook name): shown only in JSON lines. */
export type LogFields = Record<string, string | number | boolean | null>;

/** A line of WARNING or worse, kept for live views (`ctl top`, /status). */
export interface LogEvent {
  time: string;
  level: LogLevel;
  message: string;
}
const RECENT_EVENTS = 8;

export class Logger {
  private sink: LogSink;
  /** The last few WARNING-or-worse lines, newest last. */
  readonly recent: LogEvent[] = [];
  private file: string;
  /** --log-syslog: every line written is sent there too (collectors.ts). */
  syslog: Syslog | null = null;
  /** --statsd-host: told of every line, written or below the level (Gunicorn counts them all). */
  counted: ((level: LogLevel) => void) | null = null;

  /** `file`: the error log, "-" for stderr. */
  constructor(private level: LogLevel = 'info', file = '-', private format: LogFormat = 'text') {
    this.file = file;
    this.sink = new LogSink(file, process.stderr);
  }

  /** USR1: reopen the log file (after logrotate moved it). */
  reopen(): void {
    this.sink.reopen();
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }

  /** HUP: the reloaded level, format and file (a new file is opened, the old one closed). */
  configure(level: LogLevel, file: string, format: LogFormat): void {
    [this.level, this.format] = [level, format];
    if (file === this.file) return;
    this.sink.close();
    this.file = file;
    this.sink = new LogSink(file, process.stderr);
  }

  get json(): boolean {
    return this.format === 'json';
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    this.counted?.(level);
    if (RANK[level] < RANK[this.level]) return;
    if (RANK[level] >= RANK.warning) {
      this.recent.push({ time: new Date().toISOString(), level, message: message.split('\n')[0]!.slice(0, 500) });
      if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    }
    if (this.format === 'json') {
      const line = JSON.stringify({ time: new Date().toISOString(), level, pid: process.pid, message, ...fields });
      this.sink.write(`${line}\n`);
      // syslog has its own time, severity and pid: the object goes as the message, for a JSON parser.
      this.syslog?.write(level, line);
    } else {
      this.sink.write(`[${timestamp()}] [${process.pid}] [${LABEL[level]}] ${message}\n`);
      this.syslog?.write(level, message);
    }
  }

  debug(message: string, fields?: LogFields): void { this.log('debug', message, fields); }
  info(message: string, fields?: LogFields): void { this.log('info', message, fields); }
  warning(message: string, fields?: LogFields): void { this.log('warning', message, fields); }
  error(message: string, fields?: LogFields): void { this.log('error', message, fields); }
  critical(message: string, fields?: LogFields): void { this.log('critical', message, fields); }
}
