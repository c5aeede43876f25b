// Datagrams to a collector (StatsD, syslog): fire and forget. A collector that is down, a name
// that does not resolve, a full socket buffer: the datagram is lost, nothing is thrown, nothing
// waits, and nothing keeps the process alive.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { HostPort } from './collector-address';

/** How long a resolved collector name is kept: a per-datagram lookup would load the thread pool. */
const DNS_TTL_MS = 30_000;

export class UdpSender {
  private socket: dgram.Socket | null = null;
  private resolved: { address: string; family: number; at: number } | null = null;
  /** Datagrams handed to the socket but not yet sent (the lookup comes first): see sent(). */
  private inFlight = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly to: HostPort) {}

  send(data: Buffer | string): void {
    try {
      this.socket ??= this.open();
      this.inFlight++;
      this.socket.send(data, this.to.port, this.to.host, this.done);
    } catch {
      // A socket closed under us (the process is ending): the datagram is lost, as any other.
      this.done();
    }
  }

  private done = (): void => {
    if (--this.inFlight > 0) return;
    this.inFlight = 0;
    for (const resolve of this.waiters.splice(0)) resolve();
  };

  /** Resolves when what was handed to send() has gone out (or failed), at most after `ms`. */
  sent(ms = 250): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      setTimeout(resolve, ms).unref();
    });
  }

  close(): void {
    try {
      this.socket?.close();
    } catch { /* already closed */ }
    this.socket = null;
  }

  private open(): dgram.Socket {
    const socket = dgram.createSocket({
      type: net.isIPv6(this.to.host) ? 'udp6' : 'udp4',
      lookup: (host, options, cb) => this.lookup(host, options, cb),
    });
    // ECONNREFUSED from an earlier datagram, a send that failed: ignored, the next one tries again.
    socket.on('error', () => {});
    socket.unref();
    return socket;
  }

  /**
   * dns.lookup, remembered for DNS_TTL_MS (an IP address needs no lookup at all). dgram passes
   * the family as a number, though its type says options.
   */
  private lookup(host: string, options: dns.LookupOneOptions | number, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
    // Answered on the next tick, as dns.lookup answers: dgram's bind-then-send expects no sooner.
    const family = net.isIP(host);
    if (family !== 0) return process.nextTick(cb, null, host, family);
    const hit = this.resolved;
    if (hit && Date.now() - hit.at < DNS_TTL_MS) return process.nextTick(cb, null, hit.address, hit.family);
    const want = typeof options === 'number' ? options : options.family;
    dns.lookup(host, { family: want as 4 | 6 | undefined }, (err, address, fam) => {
      if (!err) this.resolved = { address, family: fam, at: Date.now() };
      cb(err, address, fam);
    });
  }
}
