// The settings registry: every setting narwhal has is declared here once, with its flag,
// environment variable, type, default and one line of help. The CLI, config files,
// environment variables, --print-config and the README's settings table all read this table.
import {
  InvalidValue, type ValueType, bindAddress, boolean, byteSize, envPairs, existingDirectory, existingPaths,
  hookFunction, integer, listOf, oneOf, optionalText, seconds, text, umask, workerCount, type HookFunction,
} from './types';

export type { HookFunction } from './types';
import { AccessFormatError, DEFAULT_ACCESS_FORMAT, compileAccessFormat } from '../log/access-format';
import { SYSLOG_FACILITIES, parseHostPort, parseSyslogTarget, type SyslogFacility } from '../log/collector-address';
import { isAllowEntry } from '../http/forwarded';
import { nodeTls } from '../platform/lazy-builtins';

export type Section = 'app' | 'server' | 'workers' | 'lifecycle' | 'admin' | 'logging' | 'process' | 'development' | 'hooks';

export interface SettingSpec<T> {
  /**
   * snake_case (hooks: camelCase, as the functions are written): the key in config files and
   * the name --print-config prints.
   */
  readonly name: string;
  /** Flag spec, e.g. '-w, --workers <n>'; absent for settings without a flag. */
  readonly flag?: string;
  readonly type: ValueType<T>;
  /** The default; a function when it depends on the environment (PORT, WEB_CONCURRENCY). */
  readonly default: T | ((env: NodeJS.ProcessEnv) => T);
  readonly defaultText?: string;
  readonly section: Section;
  readonly help: string;
  /** Actions and file selectors make no sense inside a config file. */
  readonly notInFile?: boolean;
  /** Server hooks are functions: a config file is their only source (no flag, no env var). */
  readonly fileOnly?: boolean;
  /** The flag may be given more than once; the values are collected into a list. */
  readonly repeatable?: boolean;
  /** For server hooks: the process the hook runs in and its arguments. */
  readonly hook?: { readonly where: 'master' | 'worker'; readonly args: string };
}

const optionalBind: ValueType<string | null> = {
  allowed: `${bindAddress.allowed}, or empty for none`,
  parse: (raw) => (raw === null || raw === '' ? null : bindAddress.parse(raw)),
  format: (v) => v ?? '',
};

const accessFormat: ValueType<string> = {
  allowed: 'a format of Gunicorn atoms such as %(h)s %(r)s %(s)s, or json',
  parse(raw) {
    const format = text().parse(raw);
    try {
      compileAccessFormat(format);
    } catch (err) {
      if (err instanceof AccessFormatError) throw new InvalidValue(`${accessFormat.allowed} (${err.message})`);
      throw err;
    }
    return format;
  },
  format: (v) => v,
};

/** Where StatsD datagrams go: HOST:PORT, or empty for none. */
const statsdHost: ValueType<string | null> = {
  allowed: 'HOST:PORT or [IPv6]:PORT of a StatsD server (UDP), or empty for none',
  parse(raw) {
    const s = optionalText(this.allowed).parse(raw);
    if (s !== null && !parseHostPort(s)) throw new InvalidValue(this.allowed);
    return s;
  },
  format: (v) => v ?? '',
};

/** A metric name part or a syslog tag: what neither protocol needs escaped. */
const nameText = (allowed: string, max: number, empty: boolean): ValueType<string> =>
  text((s) => new RegExp(`^[A-Za-z0-9_.-]{${empty ? 0 : 1},${max}}$`).test(s), allowed);

/** DogStatsD tags: `k:v` (or a bare `k`) items, comma-separated; none of | , # @ or spaces in them. */
const dogstatsdTags: ValueType<string[]> = {
  allowed: 'comma-separated tags such as env:prod,region:eu (letters, digits, _ - . / :), or empty for none',
  parse(raw) {
    const items = (Array.isArray(raw) ? raw : String(raw ?? '').split(',')).map((v) => String(v).trim()).filter((v) => v !== '');
    if (!items.every((t) => /^[A-Za-z][\w.\/:-]*$/.test(t))) throw new InvalidValue(this.allowed);
    return items;
  },
  format: (v) => v.join(','),
};

const syslogTarget: ValueType<string> = {
  allowed: 'udp://HOST:PORT, tcp://HOST:PORT or unix://PATH',
  parse(raw) {
    const s = text(undefined, this.allowed).parse(raw).trim();
    if (!parseSyslogTarget(s)) throw new InvalidValue(this.allowed);
    return s;
  },
  format: (v) => v,
};

const allowEntry: ValueType<string> = {
  allowed: 'an IPv4 or IPv6 address, a CIDR block (10.0.0.0/8), or * for any peer',
  parse(raw) {
    const s = String(raw).trim();
    if (!isAllowEntry(s)) throw new InvalidValue(this.allowed);
    return s;
  },
  format: (v) => v,
};

/** An OpenSSL cipher list, checked by Node's own TLS code, so a typo is refused before binding. */
const cipherList: ValueType<string | null> = {
  allowed: 'an OpenSSL cipher list, e.g. ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256',
  parse(raw) {
    const list = optionalText(this.allowed).parse(raw);
    if (list === null) return null;
    try {
      nodeTls().createSecureContext({ ciphers: list });
    } catch (err) {
      throw new InvalidValue(`${this.allowed} (${String((err as Error).message).split('\n')[0]})`);
    }
    return list;
  },
  format: (v) => v ?? '',
};

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';
const tlsVersion: ValueType<TlsVersion> = {
  allowed: 'TLSv1.2 or TLSv1.3',
  parse(raw) {
    const s = String(raw).trim().toLowerCase().replace(/^tlsv?/, '');
    if (s === '1.2' || s === '1.3') return `TLSv${s}`;
    throw new InvalidValue(this.allowed);
  },
  format: (v) => v,
};

function setting<T>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

/** A server hook (Gunicorn's, camelCased): a function in the config file, run in `where`. */
function hook(name: string, where: 'master' | 'worker', args: string, when: string): SettingSpec<HookFunction | null> {
  return {
    name, type: hookFunction, default: null, section: 'hooks', fileOnly: true, hook: { where, args },
    help: `${name}(${args}), in the ${where}: ${when}`,
  };
}

export const DISTRIBUTION_MODES = ['auto', 'round-robin', 'shared', 'reuseport'] as const;
export type DistributionMode = (typeof DISTRIBUTION_MODES)[number];
/** A mode the master runs: `auto` resolved (config/plan.ts, resolveDistribution). */
export type ResolvedDistribution = Exclude<DistributionMode, 'auto'>;
export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const CERT_REQS = ['none', 'optional', 'required'] as const;
export type CertReqs = (typeof CERT_REQS)[number];
export const HTTP_PROTOCOLS = ['h2', 'h1'] as const;
export type HttpProtocol = (typeof HTTP_PROTOCOLS)[number];

export const SETTINGS = {
  app: setting({
    name: 'app', type: optionalText('path/to/file[:export] or path/to/file:factory()'),
    default: null, section: 'app',
    help: 'The app to serve: FILE[:EXPORT] or FILE:FACTORY() (also the positional argument)',
  }),
  config: setting({
    name: 'config', flag: '-c, --config <file>', type: optionalText('a path to a config file'),
    default: null, section: 'app', notInFile: true,
    help: 'Config file (.js, .mjs, .cjs, .json); default: narwhal.config.* in the working directory',
  }),
  bind: setting({
    name: 'bind', flag: '-b, --bind <address>', type: listOf(bindAddress),
    default: (env) => [env.PORT ? `0.0.0.0:${env.PORT}` : '127.0.0.1:8000'],
    defaultText: '127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set', section: 'server',
    help: 'Address to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N; repeatable. Ignored under systemd socket activation (LISTEN_FDS)',
    repeatable: true,
  }),
  backlog: setting({
    name: 'backlog', flag: '--backlog <n>', type: integer(1, 65535), default: 2048, section: 'server',
    help: 'Maximum number of pending connections in each listen queue',
  }),
  distribution: setting({
    name: 'distribution', flag: '--distribution <mode>', type: oneOf(DISTRIBUTION_MODES),
    default: 'auto' as DistributionMode, section: 'server',
    help: 'How connections reach workers: shared (one listening socket the ready workers accept from, taking turns), round-robin (the master accepts and hands each connection over), reuseport (one socket per worker); auto = shared, or round-robin with --sticky',
  }),
  sticky: setting({
    name: 'sticky', flag: '--sticky', type: boolean, default: false, section: 'server',
    help: 'Route every request of a Socket.IO (Engine.IO) session to the worker that owns it: the master reads the request line of each new connection (so distribution is round-robin; with TLS in the workers, by client address)',
  }),
  keep_alive: setting({
    name: 'keep_alive', flag: '--keep-alive <seconds>', type: seconds(0), default: 5, section: 'server',
    help: 'Seconds an idle keep-alive connection is held open',
  }),
  header_timeout: setting({
    name: 'header_timeout', flag: '--header-timeout <seconds>', type: seconds(0), default: 60, section: 'server',
    help: 'Seconds a client gets to send a request\'s headers (from the connection, or from the first byte of a later request on it); then it is answered 408 and closed (0 = no limit). Also how long the master holds a connection no worker is ready to take',
  }),
  request_timeout: setting({
    name: 'request_timeout', flag: '--request-timeout <seconds>', type: seconds(0), default: 300, section: 'server',
    help: 'Seconds a client gets to send a whole request, body included; then it is answered 408 and closed (0 = no limit; at least header_timeout)',
  }),
  limit_request_line: setting({
    name: 'limit_request_line', flag: '--limit-request-line <bytes>', type: integer(0, 65536), default: 4094,
    section: 'server',
    help: 'Maximum size of the request line (method, target, version, CRLF) in bytes; longer is refused 414 (0 = no limit beyond the header size cap)',
  }),
  limit_request_fields: setting({
    name: 'limit_request_fields', flag: '--limit-request-fields <n>', type: integer(0, 32768), default: 100,
    section: 'server',
    help: 'Maximum number of header fields in a request; more is refused 431 (0 = no limit)',
  }),
  limit_request_field_size: setting({
    name: 'limit_request_field_size', flag: '--limit-request-field-size <bytes>', type: integer(0, 65536),
    default: 8190, section: 'server',
    help: 'Maximum size of one header field line (name, colon, space, value, CRLF) in bytes; larger is refused 431 (0 = Gunicorn\'s maximum, 8190)',
  }),
  forwarded_allow_ips: setting({
    name: 'forwarded_allow_ips', flag: '--forwarded-allow-ips <ips>', type: listOf(allowEntry),
    default: ['127.0.0.1', '::1'], section: 'server', repeatable: true,
    help: 'Peers (comma-separated IPs and CIDRs, * = any) trusted as proxies: to send X-Forwarded-For/-Proto/-Host/-Port and Forwarded (removed from requests of other peers), a PROXY preamble (with proxy_protocol; Gunicorn\'s proxy_allow_ips) and the h2c preface (with http2_cleartext). Default loopback only, as Gunicorn; in a container list the ingress (e.g. the pod network\'s CIDR). Unix-socket peers are trusted',
  }),
  proxy_protocol: setting({
    name: 'proxy_protocol', flag: '--proxy-protocol', type: boolean, default: false, section: 'server',
    help: 'Read a PROXY protocol v1/v2 preamble (HAProxy, AWS NLB) from peers in forwarded_allow_ips and report its client address as the remote address; a connection without one is served as plain HTTP, a malformed one is closed',
  }),
  certfile: setting({
    name: 'certfile', flag: '--certfile <file>', type: optionalText('a path to a PEM certificate (chain) file'),
    default: null, section: 'server',
    help: 'Serve HTTPS: the PEM certificate, followed by any intermediate certificates; needs keyfile. Workers terminate TLS (read at boot, so HUP picks up a renewed certificate)',
  }),
  keyfile: setting({
    name: 'keyfile', flag: '--keyfile <file>', type: optionalText('a path to a PEM private key file'),
    default: null, section: 'server',
    help: 'The PEM private key of certfile (encrypted: see keyfile_passphrase_file); needs certfile',
  }),
  keyfile_passphrase_file: setting({
    name: 'keyfile_passphrase_file', flag: '--keyfile-passphrase-file <file>', type: optionalText('a path to a file holding the passphrase'),
    default: null, section: 'server',
    help: 'A file holding the passphrase of an encrypted keyfile (one trailing newline is ignored); read when keyfile is',
  }),
  ca_certs: setting({
    name: 'ca_certs', flag: '--ca-certs <file>', type: optionalText('a path to a PEM file of CA certificates'),
    default: null, section: 'server',
    help: 'Mutual TLS: the PEM CA certificates that client certificates must chain to; needs cert_reqs optional or required',
  }),
  cert_reqs: setting({
    name: 'cert_reqs', flag: '--cert-reqs <mode>', type: oneOf(CERT_REQS), default: 'none' as CertReqs, section: 'server',
    help: 'Mutual TLS: none (no client certificate asked for), optional (asked for; one that does not verify against ca_certs is refused), required (a client without a valid one fails the handshake)',
  }),
  ciphers: setting({
    name: 'ciphers', flag: '--ciphers <list>', type: cipherList, default: null, section: 'server',
    help: 'The TLS cipher suites to allow, as an OpenSSL cipher list (TLS 1.3 suites are the TLS_* names); default: Node.js\'s',
  }),
  tls_min_version: setting({
    name: 'tls_min_version', flag: '--tls-min-version <version>', type: tlsVersion, default: 'TLSv1.2' as TlsVersion, section: 'server',
    help: 'The oldest TLS version a client may negotiate',
  }),
  http_protocols: setting({
    name: 'http_protocols', flag: '--http-protocols <list>', type: listOf(oneOf(HTTP_PROTOCOLS)),
    default: ['h2', 'h1'], section: 'server',
    help: 'The protocols offered over TLS (by ALPN), in order of preference: h2 (HTTP/2), h1 (HTTP/1.1); see docs/protocols.md for the app shapes served over HTTP/2',
  }),
  http2_cleartext: setting({
    name: 'http2_cleartext', flag: '--http2-cleartext <mode>', type: oneOf(['off', 'prior-knowledge'] as const),
    default: 'off' as 'off' | 'prior-knowledge', section: 'server',
    help: 'prior-knowledge: also serve cleartext HTTP/2 (h2c) to clients that open with the HTTP/2 preface, from peers in forwarded_allow_ips (a proxy speaking h2c upstream); everyone else gets HTTP/1.1. Never expose it to the internet',
  }),
  http2_max_concurrent_streams: setting({
    name: 'http2_max_concurrent_streams', flag: '--http2-max-concurrent-streams <n>', type: integer(1, 2 ** 31 - 1),
    default: 100, section: 'server', help: 'HTTP/2: the most streams (requests) a client may have open at once on one connection',
  }),
  http2_initial_window_size: setting({
    name: 'http2_initial_window_size', flag: '--http2-initial-window-size <bytes>', type: integer(0, 2 ** 31 - 1),
    default: 65535, section: 'server', help: 'HTTP/2: the flow-control window of each stream, in bytes: how much request body a client may send before the app reads it',
  }),
  http2_max_header_list_size: setting({
    name: 'http2_max_header_list_size', flag: '--http2-max-header-list-size <bytes>', type: integer(1024, 2 ** 32 - 1),
    default: 65536, section: 'server', help: 'HTTP/2: the largest header list a request may have (names, values and 32 bytes per field); a larger one resets the stream',
  }),
  workers: setting({
    name: 'workers', flag: '-w, --workers <n>', type: workerCount,
    default: (env) => (env.WEB_CONCURRENCY ? workerCount.parse(env.WEB_CONCURRENCY) : 'auto'),
    defaultText: 'auto, or $WEB_CONCURRENCY when set', section: 'workers',
    help: 'Number of worker processes, or auto to size the pool from the CPUs the container may use',
  }),
  threads: setting({
    name: 'threads', flag: '--threads <n>', type: integer(1, 64), default: 1, section: 'workers',
    help: "Event loops per worker process (Gunicorn's --threads): the process's own and n-1 worker_threads, each running its own copy of the app on the worker's listeners. Less memory than as many processes; a native crash or an OOM takes the whole process. Needs distribution shared or reuseport",
  }),
  uv_threadpool: setting({
    name: 'uv_threadpool', flag: '--uv-threadpool <n>', type: integer(0, 1024), default: 0, defaultText: "0 (Node's default, 4)",
    section: 'workers',
    help: "Size of each worker's libuv thread pool (UV_THREADPOOL_SIZE), shared by its event loops: file system calls, dns.lookup, crypto.pbkdf2/scrypt, zlib. Raise it for apps that hash passwords (bcrypt) or read many files at once",
  }),
  balance_connections: setting({
    name: 'balance_connections', flag: '--balance-connections <on|off>', type: oneOf(['on', 'off'] as const), default: 'on' as 'on' | 'off', section: 'workers',
    help: 'Shared socket and reuseport: a worker holding clearly more keep-alive connections than its share hands idle ones (plain HTTP/1.1, between requests) to the worker holding fewest, unseen by clients, so that a burst of new connections does not leave one worker with most of them (round-robin balances by itself)',
  }),
  worker_connections: setting({
    name: 'worker_connections', flag: '--worker-connections <n>', type: integer(0, 2 ** 20), default: 1000, section: 'workers',
    help: 'The most connections one worker serves at once (Gunicorn\'s and nginx\'s); more wait, unread, until one closes (up to backlog of them, each for at most header_timeout; beyond that they are closed). WebSockets count: raise it for many long-lived connections (0 = no cap)',
  }),
  timeout: setting({
    name: 'timeout', flag: '-t, --timeout <seconds>', type: seconds(0), default: 30, section: 'workers',
    help: 'A worker whose event loop is blocked this long (no heartbeat) is killed and replaced; with --threads, a blocked thread is replaced alone (0 = never). The same setting paces supervision: workers send heartbeats, and the master checks its pool, every quarter of it, 0.1 to 1 s (1 s with 0), following a HUP that changes it; and a worker waits this long for an app that calls listen() after it has loaded (30 s with 0)',
  }),
  graceful_timeout: setting({
    name: 'graceful_timeout', flag: '--graceful-timeout <seconds>', type: seconds(0), default: 30,
    section: 'workers', help: 'Seconds a stopping worker gets to finish in-flight requests before it is killed',
  }),
  max_requests: setting({
    name: 'max_requests', flag: '--max-requests <n>', type: integer(0), default: 0, section: 'workers',
    help: 'Recycle a worker after it has served this many requests (0 = never)',
  }),
  max_requests_jitter: setting({
    name: 'max_requests_jitter', flag: '--max-requests-jitter <n>', type: integer(0), default: 0,
    section: 'workers', help: 'Add a random 0..N to max_requests per worker, so workers do not recycle together',
  }),
  max_worker_memory: setting({
    name: 'max_worker_memory', flag: '--max-worker-memory <size>', type: byteSize, default: 0, section: 'workers',
    help: 'Recycle a worker gracefully when its resident memory exceeds this (e.g. 512MB; 0 = never)',
  }),
  worker_heap_mb: setting({
    name: 'worker_heap_mb', flag: '--worker-heap-mb <mb>', type: integer(0), default: 0, section: 'workers',
    help: "Each event loop's V8 old-space limit in MiB, per worker process or per thread with --threads (0 = sized from the container memory limit)",
  }),
  degraded_after: setting({
    name: 'degraded_after', flag: '--degraded-after <seconds>', type: seconds(0), default: 30, section: 'workers',
    help: 'A pool below its worker count this long is degraded: a WARNING every so many seconds, narwhal_pool_degraded 1, a degraded detail in /readyz (0 = never)',
  }),
  shutdown_delay: setting({
    name: 'shutdown_delay', flag: '--shutdown-delay <seconds>', type: seconds(0), default: 0, section: 'lifecycle',
    help: 'On TERM, report not-ready and keep serving this long before draining (for load balancers)',
  }),
  admin_bind: setting({
    name: 'admin_bind', flag: '--admin-bind <address>', type: optionalBind, default: null, section: 'admin',
    help: 'HOST:PORT for /healthz, /readyz and /metrics, served by the master (off unless set)',
  }),
  control_socket: setting({
    name: 'control_socket', flag: '--control-socket <path>', type: optionalText('a file path for a unix socket'),
    default: null, section: 'admin',
    help: 'Unix socket (mode 0600) on which the master takes `narwhal ctl` commands: status, reload, scale, reopen-logs, stop (off unless set; never TCP)',
  }),
  compile_cache: setting({
    name: 'compile_cache', flag: '--compile-cache <dir>', type: text(undefined, 'a directory, auto, or off'), default: 'auto', section: 'process',
    help: "Node's compile cache for the workers (Node >= 22.1): a directory only the workers' user may write; auto = one per worker uid under the OS temp dir; off = none",
  }),
  pid: setting({
    name: 'pid', flag: '-p, --pid <file>', type: optionalText('a file path'), default: null, section: 'process',
    help: 'Write the master PID to this file',
  }),
  user: setting({
    name: 'user', flag: '-u, --user <user>', type: optionalText('a user name or numeric uid'), default: null,
    section: 'process', help: 'Run workers as this user (the master must start as root; default: the master\'s own)',
  }),
  group: setting({
    name: 'group', flag: '-g, --group <group>', type: optionalText('a group name or numeric gid'), default: null,
    section: 'process', help: 'Run workers as this group (default: the user\'s group, or the master\'s own)',
  }),
  raw_env: setting({
    name: 'raw_env', flag: '-e, --env <KEY=VALUE>', type: envPairs, default: {}, section: 'process', repeatable: true,
    help: "An environment variable for the app, set in every worker before the app loads; repeatable (Gunicorn's raw_env)",
  }),
  chdir: setting({
    name: 'chdir', flag: '--chdir <dir>', type: existingDirectory, default: null, defaultText: 'the working directory',
    section: 'process', help: 'Change to this directory before the app loads (the config file is still found from where narwhal started)',
  }),
  umask: setting({
    name: 'umask', flag: '--umask <mode>', type: umask, default: null, defaultText: 'inherited', section: 'process',
    help: 'File mode creation mask (octal, e.g. 027) of the master and workers, set before anything binds or the app loads: it applies to unix sockets and the files the app creates',
  }),
  proc_name: setting({
    name: 'proc_name', flag: '-n, --name <name>', type: optionalText('a process name'), default: null,
    section: 'process', help: 'Name shown in process titles instead of the app spec',
  }),
  access_logfile: setting({
    name: 'access_logfile', flag: '--access-logfile <file>', type: optionalText('a file path, or - for stdout'),
    default: null, section: 'logging', help: 'Write an access log line per request to this file (- = stdout; off unless set)',
  }),
  access_logformat: setting({
    name: 'access_logformat', flag: '--access-logformat <format>', type: accessFormat,
    default: DEFAULT_ACCESS_FORMAT, section: 'logging',
    defaultText: `${DEFAULT_ACCESS_FORMAT} (json with log_format json)`,
    help: 'Access log line: Gunicorn atoms such as %(h)s %(r)s %(s)s %(b)s %(D)s, or json for one JSON object per line (time, remote, method, path, query, status, bytes, duration_s, user_agent, referer, request_id …)',
  }),
  error_logfile: setting({
    name: 'error_logfile', flag: '--error-logfile <file>', type: text(undefined, 'a file path, or - for stderr'),
    default: '-', section: 'logging', help: 'Write the error log to this file (- = stderr); reopened on USR1',
  }),
  log_level: setting({
    name: 'log_level', flag: '--log-level <level>', type: oneOf(LOG_LEVELS), default: 'info' as LogLevel,
    section: 'logging', help: 'Error log verbosity',
  }),
  log_format: setting({
    name: 'log_format', flag: '--log-format <format>', type: oneOf(LOG_FORMATS), default: 'text' as LogFormat,
    section: 'logging',
    help: "Error log lines of the master and workers: text (Gunicorn's format) or json (one object per line: time, level, pid, message and fields such as worker or signal). json also makes access lines json unless access_logformat is set",
  }),
  log_syslog: setting({
    name: 'log_syslog', flag: '--log-syslog', type: boolean, default: false, section: 'logging',
    help: 'Also send the error log of the master and workers to syslog (log_syslog_to), one RFC 3164 message a line, its severity from the level',
  }),
  log_syslog_to: setting({
    name: 'log_syslog_to', flag: '--log-syslog-to <address>', type: syslogTarget, default: 'udp://127.0.0.1:514', section: 'logging',
    help: 'Where syslog messages go: udp://HOST:PORT, tcp://HOST:PORT, or unix://PATH (unix:///dev/log: a datagram socket is written through logger(1))',
  }),
  log_syslog_facility: setting({
    name: 'log_syslog_facility', flag: '--log-syslog-facility <name>', type: oneOf(Object.keys(SYSLOG_FACILITIES) as SyslogFacility[]),
    default: 'user' as SyslogFacility, section: 'logging', help: 'The syslog facility of the messages (PRI = facility * 8 + severity)',
  }),
  log_syslog_prefix: setting({
    name: 'log_syslog_prefix', flag: '--log-syslog-prefix <name>', type: nameText('1 to 32 letters, digits, _ - or .', 32, false),
    default: 'narwhal', section: 'logging', help: 'The program name (TAG) of the syslog messages: narwhal[PID]:',
  }),
  statsd_host: setting({
    name: 'statsd_host', flag: '--statsd-host <host:port>', type: statsdHost, default: null, section: 'logging',
    help: 'Send StatsD metrics over UDP to HOST:PORT: per request requests and request.status.<code> (counters) and request.duration (ms); from the master workers and workers_ready (gauges) and worker.restarts.<reason>; log.warning, log.error, log.critical (off unless set)',
  }),
  statsd_prefix: setting({
    name: 'statsd_prefix', flag: '--statsd-prefix <prefix>', type: nameText('letters, digits, _ - and . (empty for none)', 128, true),
    default: '', section: 'logging', help: 'Put before every StatsD metric name, joined with a dot (gunicorn gives Gunicorn\'s names: gunicorn.requests)',
  }),
  dogstatsd_tags: setting({
    name: 'dogstatsd_tags', flag: '--dogstatsd-tags <tags>', type: dogstatsdTags, default: [] as string[], section: 'logging',
    help: 'DogStatsD tags added to every StatsD metric (|#env:prod,region:eu): comma-separated k:v',
  }),
  reload: setting({
    name: 'reload', flag: '--reload', type: boolean, default: false, section: 'development',
    help: "Development: replace the workers one at a time (as HUP) when a source file under the app's directory changes (.js .mjs .cjs .ts .json …; node_modules and dot-directories ignored)",
  }),
  reload_extra_files: setting({
    name: 'reload_extra_files', flag: '--reload-extra-file <path>', type: existingPaths, default: [] as string[],
    section: 'development', repeatable: true,
    help: 'With reload: also watch this file, or every file under this directory (templates, data); repeatable',
  }),
  check_config: setting({
    name: 'check_config', flag: '--check-config', type: boolean, default: false, section: 'process',
    notInFile: true, help: 'Validate the settings, load the app once, and exit (0 if fine, 1 if not)',
  }),
  print_config: setting({
    name: 'print_config', flag: '--print-config', type: boolean, default: false, section: 'process',
    notInFile: true, help: 'Print the resolved settings, one "name = value" per line, and exit',
  }),
  // Server hooks (docs/operations.md). Master hooks get `server` (pid, settings, log, target,
  // workers()); worker hooks get `worker` (pid, age, settings, log), loaded in each worker from
  // the same config file.
  onStarting: hook('onStarting', 'master', 'server', 'before the master binds its sockets (awaited)'),
  onReload: hook('onReload', 'master', 'server', 'on HUP (or --reload, narwhal ctl reload), with the new settings, before the workers are replaced'),
  whenReady: hook('whenReady', 'master', 'server', 'once, when the whole first pool of workers is ready to serve'),
  preFork: hook('preFork', 'master', 'server, worker', 'before a worker process is started (worker.pid is not known yet)'),
  postFork: hook('postFork', 'master', 'server, worker', 'just after a worker process is started'),
  postWorkerInit: hook('postWorkerInit', 'worker', 'worker', 'after the app is loaded, before the worker takes connections (awaited)'),
  workerInt: hook('workerInt', 'worker', 'worker', 'on INT or QUIT (quick shutdown), before the worker exits'),
  workerAbort: hook('workerAbort', 'worker', 'worker', 'on SIGABRT, before the worker exits'),
  preRequest: hook('preRequest', 'worker', 'worker, req, res', 'before the app handles a request'),
  postRequest: hook('postRequest', 'worker', 'worker, req, res', 'after the response has been sent (or the connection closed)'),
  childExit: hook('childExit', 'master', 'server, worker', 'after a worker process has exited'),
  workerExit: hook('workerExit', 'worker', 'worker', 'as the worker exits, after its requests are drained (awaited, within graceful_timeout)'),
  nworkersChanged: hook('nworkersChanged', 'master', 'server, newValue, oldValue', 'when the pool target changes (TTIN, TTOU, scale, HUP; at start with oldValue null)'),
  onExit: hook('onExit', 'master', 'server', 'just before the master exits (awaited, within graceful_timeout)'),
  preExec: hook('preExec', 'master', 'server', 'on USR2, before the new master is started'),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<S> = S extends SettingSpec<infer T> ? T : never;
export type Settings = { -readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> };

export const SETTING_LIST: readonly SettingSpec<unknown>[] = Object.values(SETTINGS) as SettingSpec<unknown>[];

export function envVarName(name: string): string {
  return `NARWHAL_${name.toUpperCase()}`;
}

/** The names of the server hooks, in the order they are declared. */
export const HOOK_NAMES = SETTING_LIST.filter((s) => s.section === 'hooks').map((s) => s.name);

/** The long flag of a setting, e.g. '--graceful-timeout'. */
export function longFlag(spec: SettingSpec<unknown>): string | undefined {
  return spec.flag?.match(/--[a-z0-9-]+/)?.[0];
}
