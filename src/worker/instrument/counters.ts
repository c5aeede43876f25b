// The worker's request counters, sent with each heartbeat: the master adds them up for /metrics
// and for max-requests' bookkeeping.
import { DURATION_BUCKETS } from '../../ipc';

export interface HttpCounters {
  requests: number;
  inFlight: number;
  /** Responses by status class, index 1..5 = 1xx..5xx, 0 = other (for /metrics). */
  codes: number[];
  /** Request durations: count per DURATION_BUCKETS slot, +Inf last; and their sum in seconds. */
  buckets: number[];
  durationSum: number;
}

export const newCounters = (): HttpCounters => ({
  requests: 0, inFlight: 0, codes: [0, 0, 0, 0, 0, 0], buckets: new Array(DURATION_BUCKETS.length + 1).fill(0), durationSum: 0,
});

/** Counts one finished response: a few array increments, no allocation. */
export function recordResponse(c: HttpCounters, status: number, seconds: number): void {
  const cls = (status / 100) | 0;
  c.codes[cls >= 1 && cls <= 5 ? cls : 0]++;
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  c.buckets[i]++;
  c.durationSum += seconds;
}
