// A StatsD client (Gunicorn's --statsd-host): counters, timings and gauges over UDP, so a slow or
// absent collector never holds a request up. A request costs a few map increments and one
// string: counters are summed and lines gathered for up to FLUSH_MS, then sent several lines to a
// datagram (at most DATAGRAM_BYTES, under a usual MTU). With --dogstatsd-tags every line ends in
// DogStatsD's `|#k:v,...`.
import type { Settings } from '../config/settings';
import { parseHostPort } from './collector-address';
import { UdpSender } from './udp';

const FLUSH_MS = 100;
const DATAGRAM_BYTES = 1400;
/** Under a flood of requests, timings are sent before FLUSH_MS once this many bytes wait. */
const EARLY_FLUSH_BYTES = 64 * 1024;

export class Statsd {
  private readonly prefix: string;
  private readonly tags: string;
  /** Counters summed since the last flush (`log.error`, `worker.restarts.crash` …). */
  private readonly counts = new Map<string, number>();
  /** The per-request ones, kept apart so a request makes no string for them: requests, by status. */
  private requests = 0;
  private readonly statuses = new Map<number, number>();
  /** `<prefix>request.duration:` and `|ms<tags>`, made once. */
  private readonly durationHead: string;
  private readonly durationTail: string;
  /** Timing and gauge lines since the last flush, finished (prefix and tags in). */
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly out: UdpSender;

  /** `prefix`: joined to each name with a dot; `tags`: DogStatsD tags (k:v). */
  constructor(out: UdpSender, prefix = '', tags: readonly string[] = []) {
    this.out = out;
    this.prefix = prefix === '' || prefix.endsWith('.') ? prefix : `${prefix}.`;
    this.tags = tags.length > 0 ? `|#${tags.join(',')}` : '';
    this.durationHead = `${this.prefix}request.duration:`;
    this.durationTail = `|ms${this.tags}`;
  }

  /** One finished response: Gunicorn's requests, request.status.<code> and request.duration (ms). */
  request(status: number, seconds: number): void {
    this.requests++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.line(`${this.durationHead}${Math.round(seconds * 1e6) / 1e3}${this.durationTail}`);
  }

  increment(name: string, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
    this.schedule();
  }

  timing(name: string, ms: number): void {
    this.line(`${this.prefix}${name}:${Math.round(ms * 1000) / 1000}|ms${this.tags}`);
  }

  gauge(name: string, value: number): void {
    this.line(`${this.prefix}${name}:${value}|g${this.tags}`);
  }

  /** Sends what is gathered now: on the timer, and when a worker is about to exit. */
  flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.requests > 0) this.counts.set('requests', this.requests);
    for (const [status, n] of this.statuses) this.counts.set(`request.status.${status}`, n);
    for (const [name, n] of this.counts) this.lines.push(`${this.prefix}${name}:${n}|c${this.tags}`);
    this.requests = 0;
    this.statuses.clear();
    this.counts.clear();
    let datagram = '';
    for (const line of this.lines) {
      if (datagram !== '' && datagram.length + 1 + line.length > DATAGRAM_BYTES) {
        this.out.send(datagram);
        datagram = '';
      }
      datagram = datagram === '' ? line : `${datagram}\n${line}`;
    }
    if (datagram !== '') this.out.send(datagram);
    this.lines = [];
    this.bytes = 0;
  };

  /** Sends what is gathered and resolves once it is out: a worker flushes before it exits. */
  drain(): Promise<void> {
    this.flush();
    return this.out.sent();
  }

  private line(line: string): void {
    this.lines.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= EARLY_FLUSH_BYTES) return this.flush();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(this.flush, FLUSH_MS);
    this.timer.unref();
  }
}

/** The StatsD client --statsd-host asks for, or null. */
export function statsdFrom(settings: Pick<Settings, 'statsd_host' | 'statsd_prefix' | 'dogstatsd_tags'>): Statsd | null {
  const to = settings.statsd_host ? parseHostPort(settings.statsd_host) : null;
  return to ? new Statsd(new UdpSender(to), settings.statsd_prefix, settings.dogstatsd_tags) : null;
}
