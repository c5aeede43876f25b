// Records that the app's shutdown hook ran: one line per process in the file named by
// SHUTDOWN_LOG (if set), the way an app would flush or deregister on shutdown.
import { appendFileSync } from 'node:fs';
import { Injectable, OnApplicationShutdown } from '@nestjs/common';

@Injectable()
export class ShutdownRecorder implements OnApplicationShutdown {
  onApplicationShutdown(signal?: string): void {
    const file = process.env.SHUTDOWN_LOG;
    if (file) appendFileSync(file, `onApplicationShutdown signal=${signal} pid=${process.pid}\n`);
  }
}
