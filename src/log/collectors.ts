// The collectors the settings name, attached to a process's error log: syslog gets its lines
// (--log-syslog), StatsD counts its warnings, errors and criticals (--statsd-host, as Gunicorn's
// gunicorn.log.*). The StatsD client is returned for the process's own metrics (requests in a
// worker, the pool in the master).
import type { LogLevel, Settings } from '../config/settings';
import { RANK, type Logger } from './logger';
import { statsdFrom, type Statsd } from './statsd';
import { syslogFrom } from './syslog';

type CollectorSettings = Pick<Settings, 'log_syslog' | 'log_syslog_to' | 'log_syslog_facility' | 'log_syslog_prefix' | 'statsd_host' | 'statsd_prefix' | 'dogstatsd_tags'>;

export function attachCollectors(log: Logger, settings: CollectorSettings): Statsd | null {
  log.syslog = syslogFrom(settings);
  const statsd = statsdFrom(settings);
  if (statsd) log.counted = (level: LogLevel) => { if (RANK[level] >= RANK.warning) statsd.increment(`log.${level}`); };
  return statsd;
}
