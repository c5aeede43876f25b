// The error log: Gunicorn's line format, so operators' log greps carry over:
//   [2026-11-24 14:27:00 +0000] [4242] [INFO] Booting worker with pid: 4243
import type { LogLevel } from '../config/settings';
import { LogSink } from './sink';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
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

export class Logger {
  private readonly sink: LogSink;

  /** `file`: the error log, "-" for stderr. */
  constructor(private level: LogLevel = 'info', file = '-') {
    this.sink = new LogSink(file, process.stderr);
  }

  /** USR1: reopen the log file (after logrotate moved it). */
  reopen(): void {
    this.sink.reopen();
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }

  log(level: LogLevel, message: string): void {
    if (RANK[level] < RANK[this.level]) return;
    this.sink.write(`[${timestamp()}] [${process.pid}] [${LABEL[level]}] ${message}\n`);
  }

  debug(message: string): void { this.log('debug', message); }
  info(message: string): void { this.log('info', message); }
  warning(message: string): void { this.log('warning', message); }
  error(message: string): void { this.log('error', message); }
  critical(message: string): void { this.log('critical', message); }
}
