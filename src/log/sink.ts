// Where log lines go: "-" is the standard stream, anything else a file opened for appending.
// reopen() (on USR1) lets logrotate move the file away and have a fresh one created.
import { createWriteStream, type WriteStream } from 'node:fs';

export class LogSink {
  private file: WriteStream | null = null;

  constructor(private readonly target: string, private readonly std: NodeJS.WriteStream) {
    this.open();
  }

  private open(): void {
    if (this.target === '-') return;
    this.file = createWriteStream(this.target, { flags: 'a' });
    // A log that cannot be written must not take the server down: say so once, on stderr.
    this.file.on('error', (err) => process.stderr.write(`narwhal: cannot write log ${this.target}: ${err.message}\n`));
  }

  write = (line: string): void => {
    (this.file ?? this.std).write(line);
  };

  reopen(): void {
    if (this.target === '-') return;
    this.file?.end();
    this.open();
  }

  close(): void {
    this.file?.end();
    this.file = null;
  }
}
