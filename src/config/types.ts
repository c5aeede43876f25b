import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

// Value types of settings: each parses a raw value (from a flag, an env var or a config
// file, so a string or an already-typed value) and says in words what it allows, so every
// refusal names the setting, the value and what is allowed.

export class InvalidValue extends Error {
  constructor(readonly allowed: string) {
    super(allowed);
  }
}

export interface ValueType<T> {
  /** What the setting accepts, for error messages and the settings table. */
  readonly allowed: string;
  /** `cwd`: what relative paths are relative to (the directory narwhal was started in). */
  parse(raw: unknown, cwd?: string): T;
  /** How the value is shown by --print-config and in the docs. */
  format(value: T): string;
}

const plain = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));

function numberFrom(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '') return Number(raw.trim());
  return NaN;
}

export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): ValueType<number> {
  const allowed = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return {
    allowed,
    parse(raw) {
      const n = numberFrom(raw);
      if (!Number.isInteger(n) || n < min || n > max) throw new InvalidValue(allowed);
      return n;
    },
    format: String,
  };
}

/** A duration in seconds; fractions allowed ("0.5"), an optional "s" suffix tolerated. */
export function seconds(min = 0): ValueType<number> {
  const allowed = `a number of seconds >= ${min}`;
  return {
    allowed,
    parse(raw) {
      const n = numberFrom(typeof raw === 'string' ? raw.replace(/s$/i, '') : raw);
      if (!Number.isFinite(n) || n < min) throw new InvalidValue(allowed);
      return n;
    },
    format: String,
  };
}

export const boolean: ValueType<boolean> = {
  allowed: 'true or false',
  parse(raw) {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    throw new InvalidValue('true or false');
  },
  format: String,
};

export function text(check?: (s: string) => boolean, allowed = 'a string'): ValueType<string> {
  return {
    allowed,
    parse(raw) {
      if (typeof raw !== 'string' && typeof raw !== 'number') throw new InvalidValue(allowed);
      const s = String(raw);
      if (check && !check(s)) throw new InvalidValue(allowed);
      return s;
    },
    format: (v) => v,
  };
}

export function optionalText(allowed = 'a string, or empty for none'): ValueType<string | null> {
  return {
    allowed,
    parse(raw) {
      if (raw === null || raw === undefined || raw === '' || raw === false) return null;
      if (typeof raw !== 'string') throw new InvalidValue(allowed);
      return raw;
    },
    format: (v) => v ?? '',
  };
}

export function oneOf<const T extends string>(choices: readonly T[]): ValueType<T> {
  const allowed = `one of ${choices.join(', ')}`;
  return {
    allowed,
    parse(raw) {
      const s = String(raw).trim().toLowerCase();
      if (!(choices as readonly string[]).includes(s)) throw new InvalidValue(allowed);
      return s as T;
    },
    format: (v) => v,
  };
}

/** A list given as repeated flags, a comma-separated env var, or a JSON array in a file. */
export function listOf(item: ValueType<string>): ValueType<string[]> {
  const allowed = `one or more of: ${item.allowed}`;
  return {
    allowed,
    parse(raw) {
      const items = Array.isArray(raw) ? raw : String(raw).split(',');
      const values = items.map((v) => String(v).trim()).filter((v) => v !== '');
      if (values.length === 0) throw new InvalidValue(allowed);
      return values.map((v) => item.parse(v));
    },
    format: plain,
  };
}

/** Worker count: a positive integer, or "auto" (sized from the CPUs the process may use). */
export const workerCount: ValueType<number | 'auto'> = {
  allowed: 'a positive integer or "auto"',
  parse(raw) {
    if (String(raw).trim().toLowerCase() === 'auto') return 'auto';
    const n = numberFrom(raw);
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidValue('a positive integer (1-1024) or "auto"');
    return n;
  },
  format: String,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9,
  ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3,
};

/** A byte size: "512MB", "1GiB", "300m", a plain number of bytes; 0 means off. */
export const byteSize: ValueType<number> = {
  allowed: 'a size such as 512MB, 1GiB or a number of bytes (0 = off)',
  parse(raw) {
    if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(raw));
    const unit = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new InvalidValue(this.allowed);
    return Math.round(Number(m[1]) * unit);
  },
  format: String,
};

/** A listen address: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N. */
export const bindAddress: ValueType<string> = {
  allowed: 'HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N',
  parse(raw) {
    const s = String(raw).trim();
    if (/^unix:.+/.test(s) || /^fd:\/\/\d+$/.test(s)) return s;
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
    if (!m || Number(m[3]) > 65535) throw new InvalidValue(this.allowed);
    return s;
  },
  format: (v) => v,
};

/** A server hook: any function, sync or async; the arguments are the hook's (see settings.ts). */
export type HookFunction = (...args: never[]) => unknown;

export const hookFunction: ValueType<HookFunction | null> = {
  allowed: 'a function, in a .js, .mjs or .cjs config file',
  parse(raw) {
    if (raw === null || raw === undefined) return null;
    if (typeof raw !== 'function') throw new InvalidValue(this.allowed);
    return raw as HookFunction;
  },
  format: (v) => (v ? `function ${v.name || '(anonymous)'}` : ''),
};

/**
 * Environment variables for the app (Gunicorn's raw_env): KEY=VALUE strings from repeated -e
 * flags, a list or an object in a config file, or newline-separated pairs in NARWHAL_RAW_ENV
 * (values may hold commas, so commas do not separate them).
 */
export const envPairs: ValueType<Record<string, string>> = {
  allowed: 'KEY=VALUE (KEY: letters, digits and _, not starting with a digit)',
  parse(raw) {
    const out: Record<string, string> = {};
    const items = raw && typeof raw === 'object' && !Array.isArray(raw)
      ? Object.entries(raw).map(([key, value]) => `${key}=${value}`)
      : Array.isArray(raw) ? raw.map(String) : String(raw ?? '').split('\n').filter((l) => l.trim() !== '');
    for (const item of items) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(item);
      if (!m) throw new InvalidValue(this.allowed);
      out[m[1]!] = m[2]!;
    }
    return out;
  },
  format: (v) => Object.entries(v).map(([k, val]) => `${k}=${val}`).join(' '),
};

/** A directory that exists (relative to the directory narwhal was started in). */
export const existingDirectory: ValueType<string | null> = {
  allowed: 'an existing directory',
  parse(raw, cwd = process.cwd()) {
    if (raw === null || raw === undefined || raw === '') return null;
    if (typeof raw !== 'string') throw new InvalidValue(this.allowed);
    const path = resolve(cwd, raw);
    if (!existsSync(path) || !statSync(path).isDirectory()) throw new InvalidValue(this.allowed);
    return path;
  },
  format: (v) => v ?? '',
};

/** Files or directories that exist, from repeated flags, a list, or a comma-separated string. */
export const existingPaths: ValueType<string[]> = {
  allowed: 'existing files or directories',
  parse(raw, cwd = process.cwd()) {
    const items = Array.isArray(raw) ? raw : String(raw ?? '').split(',');
    return items.map((v) => String(v).trim()).filter((v) => v !== '').map((v) => {
      const path = resolve(cwd, v);
      if (!existsSync(path)) throw new InvalidValue(this.allowed);
      return path;
    });
  },
  format: plain,
};

/**
 * A umask. Strings are octal, as umask(1) and systemd's UMask= write it ("027", "0o027",
 * "0027"); a number (a JS config file's 0o027) is taken as it is.
 */
export const umask: ValueType<number | null> = {
  allowed: 'an octal mode from 000 to 777, such as 022 or 0o027',
  parse(raw) {
    if (raw === null || raw === undefined || raw === '') return null;
    if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= 0o777) return raw;
    const m = /^\s*(?:0o)?([0-7]{1,4})\s*$/i.exec(typeof raw === 'string' ? raw : '');
    const n = m ? parseInt(m[1]!, 8) : NaN;
    if (!(n >= 0 && n <= 0o777)) throw new InvalidValue(this.allowed);
    return n;
  },
  format: (v) => (v === null ? '' : `0${v.toString(8).padStart(3, '0')}`),
};
