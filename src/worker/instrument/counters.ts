// The worker's request counters, sent with each heartbeat: the master adds them up for /metrics
// and for max-requests' bookkeeping.
import { BUCKET_SLOTS, DURATION_BUCKETS, STATUS_CLASSES } from '../../ipc';

export interface HttpCounters {
  requests: number;
  inFlight: number;
  /** Open client connections (tracked for drains: connections.ts). */
  connections: number;
  /** Responses by status class, index 1..5 = 1xx..5xx, 0 = other (for /metrics). */
  codes: number[];
  /**
   * Request durations by status class (the same 0..5 as codes): count per DURATION_BUCKETS slot,
   * +Inf last, the classes one after another (BUCKET_SLOTS each); and their sums in seconds.
   */
  buckets: number[];
  durationSums: number[];
}

export const newCounters = (): HttpCounters => ({
  requests: 0, inFlight: 0, connections: 0, codes: [0, 0, 0, 0, 0, 0], buckets: new Array(STATUS_CLASSES * BUCKET_SLOTS).fill(0),
  durationSums: [0, 0, 0, 0, 0, 0],
});

/** Counts one finished response: a few array increments, no allocation. */
export function recordResponse(c: HttpCounters, status: number, seconds: number): void {
  const hundreds = (status / 100) | 0;
  const cls = hundreds >= 1 && hundreds <= 5 ? hundreds : 0;
  c.codes[cls]++;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  c.buckets[cls * BUCKET_SLOTS + i]++;
  c.durationSums[cls] += seconds;
}
