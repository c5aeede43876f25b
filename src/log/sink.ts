// Where log lines go: "-" is the standard stream, anything else a file opened for appending.
// reopen() (on USR1) lets logrotate move the file away and have a fresh one created.
//
// An error log line is written at once. Access log lines (`gather`) are gathered and written once
// per turn of the event loop (or at 64 KiB), with one synchronous write: a line per request then
// costs a string append, not a write of its own (a WriteStream sends every line alone to the
// thread pool while none is in flight, which cost a third of a small request's CPU). What is
// gathered is written on exit too, so a worker that exits after its drain loses no line.
import { closeSync, constants, openSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Flags to open a log file with. In a directory someone else may write — group or world, or
 * owned by a user other than root and this process's own (a worker's 0755 directory) — a symlink
 * at the path could point anywhere the master (often root) may write: it is not followed
 * (O_NOFOLLOW; the open fails with ELOOP, said once on stderr). Elsewhere (/dev/stdout, a link an
 * operator made in /var/log) links are followed as usual.
 */
export function logOpenFlags(path: string): number {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  try {
    const dir = statSync(dirname(path));
    const othersWrite = (dir.mode & 0o022) !== 0 || (dir.uid !== 0 && dir.uid !== process.getuid?.());
    if (othersWrite) return flags | constants.O_NOFOLLOW;
  } catch { /* the open says what is wrong */ }
  return flags;
}

const FLUSH_AT = 64 * 1024;

/** Open sinks, written out when the process exits (one listener for all of them). */
const openSinks = new Set<LogSink>();
let exitHooked = false;

export class LogSink {
  private fd: number | null = null;
  private pending = '';
  private scheduled = false;
  private failed = false;

  constructor(private readonly target: string, private readonly std: NodeJS.WriteStream, private readonly gather = false) {
    this.open();
    openSinks.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', () => { for (const sink of openSinks) sink.flush(); });
    }
  }

  private open(): void {
    if (this.target === '-') return;
    try {
      this.fd = openSync(this.target, logOpenFlags(this.target), 0o644);
      this.failed = false;
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** A log that cannot be written must not take the server down: say so once, on stderr. */
  private fail(err: Error): void {
    if (!this.failed) process.stderr.write(`narwhal: cannot write log ${this.target}: ${err.message}\n`);
    this.failed = true;
  }

  write = (line: string): void => {
    this.pending += line;
    if (!this.gather) return this.flush();
    if (this.pending.length >= FLUSH_AT) return this.flush();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  flush = (): void => {
    this.scheduled = false;
    if (this.pending === '') return;
    const data = this.pending;
    this.pending = '';
    if (this.target === '-') return void this.std.write(data);
    if (this.fd === null) return;
    try {
      const bytes = Buffer.from(data);
      for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done);
    } catch (err) {
      this.fail(err as Error);
    }
  };

  reopen(): void {
    if (this.target === '-') return;
    this.flush();
    this.closeFile();
    this.open();
  }

  close(): void {
    this.flush();
    this.closeFile();
    openSinks.delete(this);
  }

  private closeFile(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already gone: nothing left to lose.
    }
    this.fd = null;
  }
}
