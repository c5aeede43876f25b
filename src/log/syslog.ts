// The error log to syslog as well (Gunicorn's --log-syslog): each line an RFC 3164 message,
//   <PRI>Dec  3 13:05:43 HOSTNAME narwhal[4242]: Booting worker with pid: 4243
// PRI = facility * 8 + severity (from the line's level). Over UDP (the default, as Gunicorn:
// udp://127.0.0.1:514) a datagram per line; over TCP or a unix stream socket one line per
// message (LF framing, RFC 6587), the host name left out on a local socket as glibc's syslog()
// does. A unix *datagram* socket (/dev/log of rsyslog and journald) is out of Node's reach
// (libuv has no unix datagrams): its lines go through util-linux's logger(1), one process kept
// running. Lines are never waited for: a receiver that is down loses them (a connection or a
// logger(1) that fails is said once on stderr; UDP cannot tell).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { hostname } from 'node:os';
import type { LogLevel, Settings } from '../config/settings';
import { parseSyslogTarget, type SyslogFacility, type SyslogTarget } from './collector-address';
import { pri, syslogLine } from './syslog-format';
import { UdpSender } from './udp';

/** A message longer than this is cut: a UDP datagram has room for 64 KiB, receivers often less. */
const MAX_MESSAGE = 8192;

interface Transport {
  send(line: string, p: number, message: string): void;
}

export class Syslog {
  private readonly transport: Transport;
  private readonly host: string | null;

  constructor(to: SyslogTarget, private readonly facility: SyslogFacility, private readonly tag: string) {
    this.host = to.kind === 'unix' ? null : hostname().split('.')[0] || '-';
    if (to.kind === 'udp') {
      const out = new UdpSender(to);
      this.transport = { send: (line) => out.send(line) };
    } else {
      this.transport = new StreamTransport(to, tag);
    }
  }

  write(level: LogLevel, message: string): void {
    const text = message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE) : message;
    const p = pri(this.facility, level);
    this.transport.send(syslogLine(p, this.tag, text, this.host), p, text);
  }
}

/** Lines waiting for a stream connection are capped; beyond this they are dropped. */
const MAX_WAITING = 256 * 1024;
const RETRY_MS = 1000;

/**
 * TCP or a unix stream socket: one connection, made again (after RETRY_MS) when it is lost. A
 * unix socket that turns out to be a datagram socket (EPROTOTYPE) is handed to logger(1).
 */
class StreamTransport implements Transport {
  private socket: net.Socket | null = null;
  private connected = false;
  /** Messages sent before the connection is up, framed, with what logger(1) would need of them. */
  private waiting: Array<{ framed: string; p: number; message: string }> = [];
  private waitingBytes = 0;
  private retryAt = 0;
  private told = false;
  private logger: LoggerProcess | null = null;

  constructor(private readonly to: SyslogTarget, private readonly tag: string) {}

  send(line: string, p: number, message: string): void {
    if (this.logger) return this.logger.send(p, message);
    // Framing is one message a line: a message's own line breaks are escaped, as rsyslog does.
    const framed = `${line.replace(/\n/g, '#012')}\n`;
    if (this.connected) return void this.socket!.write(framed);
    if (this.waitingBytes < MAX_WAITING) {
      this.waiting.push({ framed, p, message });
      this.waitingBytes += framed.length;
    }
    if (!this.socket && Date.now() >= this.retryAt) this.connect();
  }

  private connect(): void {
    const socket = this.to.kind === 'unix' ? net.connect(this.to.path) : net.connect(this.to.port, this.to.host);
    this.socket = socket;
    socket.unref();
    socket.on('connect', () => {
      this.connected = true;
      socket.write(this.waiting.map((w) => w.framed).join(''));
      this.waiting = [];
      this.waitingBytes = 0;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPROTOTYPE' && this.to.kind === 'unix') return this.useLogger(this.to.path);
      this.fail(err);
    });
    socket.on('close', () => {
      this.socket = null;
      this.connected = false;
      this.retryAt = Date.now() + RETRY_MS;
    });
  }

  /** A datagram socket: the messages waiting (and all later ones) go through logger(1). */
  private useLogger(path: string): void {
    this.logger = new LoggerProcess(path, this.tag, (err) => this.fail(err));
    for (const w of this.waiting) this.logger.send(w.p, w.message);
    this.waiting = [];
    this.waitingBytes = 0;
  }

  private fail(err: Error): void {
    if (!this.told) process.stderr.write(`narwhal: cannot write to syslog ${describe(this.to)}: ${err.message}\n`);
    this.told = true;
  }
}

/**
 * logger(1) of util-linux, for a unix datagram socket: `--prio-prefix` reads each line's PRI
 * from a `<PRI>` prefix, `--id` gives it this process's pid, so the lines read as if sent here.
 */
class LoggerProcess {
  private child: ChildProcess | null;

  constructor(path: string, tag: string, failed: (err: Error) => void) {
    this.child = spawn('logger', ['--prio-prefix', '--socket', path, '--tag', tag, `--id=${process.pid}`], {
      // Out of narwhal's process group: a TERM to the group (docker stop, systemd) must not end it
      // before the master's last lines; it ends when its stdin closes, as narwhal exits.
      stdio: ['pipe', 'ignore', 'ignore'], detached: true,
    });
    this.child.on('error', (err) => {
      this.child = null;
      failed(new Error(`${path} is a datagram socket, sent through logger(1): ${err.message}`));
    });
    this.child.stdin!.on('error', () => {});
    // Neither the process nor its pipe keeps narwhal alive; it ends when its stdin closes.
    this.child.unref();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  send(p: number, message: string): void {
    for (const line of message.split('\n')) this.child?.stdin?.write(`<${p}>${line}\n`);
  }
}

const describe = (to: SyslogTarget): string => (to.kind === 'unix' ? `unix://${to.path}` : `${to.kind}://${to.host}:${to.port}`);

/** The syslog --log-syslog asks for, or null. */
export function syslogFrom(settings: Pick<Settings, 'log_syslog' | 'log_syslog_to' | 'log_syslog_facility' | 'log_syslog_prefix'>): Syslog | null {
  if (!settings.log_syslog) return null;
  const to = parseSyslogTarget(settings.log_syslog_to);
  return to ? new Syslog(to, settings.log_syslog_facility, settings.log_syslog_prefix) : null;
}
