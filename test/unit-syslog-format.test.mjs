// syslog messages (src/log/syslog-format.ts) and the addresses of the collectors
// (src/log/collector-address.ts): PRI from facility and level, RFC 3164's header, and what
// --log-syslog-to and --statsd-host accept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { importSource } from './helpers/unit.mjs';

const { pri, syslogLine, syslogTime } = await importSource('src/log/syslog-format.ts');
const { parseHostPort, parseSyslogTarget } = await importSource('src/log/collector-address.ts');

test('PRI is facility * 8 + the severity of the level', () => {
  assert.is(pri('user', 'info'), 14);
  assert.is(pri('user', 'debug'), 15);
  assert.is(pri('user', 'warning'), 12);
  assert.is(pri('user', 'error'), 11);
  assert.is(pri('user', 'critical'), 10);
  assert.is(pri('daemon', 'error'), 27);
  assert.is(pri('local7', 'info'), 190);
  assert.is(pri('kern', 'critical'), 2);
});

test('RFC 3164: the day padded with a space, the host left out on a local socket', () => {
  const d = new Date(2026, 11, 3, 9, 5, 7);
  assert.is(syslogTime(d), 'Dec  3 09:05:07');
  assert.is(syslogTime(new Date(2026, 0, 13, 23, 59, 0)), 'Jan 13 23:59:00');
  assert.is(syslogLine(14, 'narwhal', 'Booting worker with pid: 43', 'web1', d, 42), '<14>Dec  3 09:05:07 web1 narwhal[42]: Booting worker with pid: 43');
  assert.is(syslogLine(11, 'api', 'boom', null, d, 42), '<11>Dec  3 09:05:07 api[42]: boom');
});

test('syslog addresses: udp, tcp (port 514 by default), unix', () => {
  assert.equal(parseSyslogTarget('udp://127.0.0.1:514'), { kind: 'udp', host: '127.0.0.1', port: 514 });
  assert.equal(parseSyslogTarget('udp://logs.internal'), { kind: 'udp', host: 'logs.internal', port: 514 });
  assert.equal(parseSyslogTarget('tcp://[::1]:6514'), { kind: 'tcp', host: '::1', port: 6514 });
  assert.equal(parseSyslogTarget('unix:///dev/log'), { kind: 'unix', path: '/dev/log' });
  assert.equal(parseSyslogTarget('unix:/run/syslog.sock'), { kind: 'unix', path: '/run/syslog.sock' });
  for (const bad of ['http://x:1', 'udp://', 'udp://h:0', 'udp://h:70000', 'unix://', 'unix:relative', '127.0.0.1:514']) {
    assert.is(parseSyslogTarget(bad), null, bad);
  }
});

test('StatsD address: HOST:PORT or [IPv6]:PORT, the port required', () => {
  assert.equal(parseHostPort('127.0.0.1:8125'), { host: '127.0.0.1', port: 8125 });
  assert.equal(parseHostPort('statsd.monitoring:8125'), { host: 'statsd.monitoring', port: 8125 });
  assert.equal(parseHostPort('[::1]:8125'), { host: '::1', port: 8125 });
  for (const bad of ['localhost', ':8125', 'a b:1', 'host:x', 'host:99999', 'udp://host:1']) assert.is(parseHostPort(bad), null, bad);
});

test.run();
