// Resolves the settings from their four sources, in order of precedence:
// defaults < config file < environment (NARWHAL_*) < command line.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  SETTINGS, SETTING_LIST, type SettingSpec, type Settings, type SettingName, envVarName, longFlag,
} from './settings';
import { InvalidValue } from './types';

import { ConfigError } from './errors';
import { importFile } from '../platform/import-file';

export { ConfigError };

export const DEFAULT_CONFIG_FILES = ['narwhal.config.js', 'narwhal.config.mjs', 'narwhal.config.cjs', 'narwhal.config.json'];

/** Raw values from the command line, keyed by setting name (flags not given are absent). */
export type CliValues = Partial<Record<SettingName, unknown>>;

function parseValue<T>(spec: SettingSpec<T>, raw: unknown, source: string, cwd: string): T {
  try {
    return spec.type.parse(raw, cwd);
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err;
    const shown = typeof raw === 'string' ? JSON.stringify(raw) : JSON.stringify(raw) ?? String(raw);
    throw new ConfigError(`invalid value for ${spec.name} (${source}): ${shown}; allowed: ${err.allowed}`);
  }
}

/** A config file key as a setting: snake_case, camelCase or kebab-case (hooks: on_starting too). */
export function settingKey(key: string): SettingName | undefined {
  const snake = key.replace(/-/g, '_').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const camel = snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  for (const name of [snake, camel]) if (name in SETTINGS) return name as SettingName;
  return undefined;
}

export function findConfigFile(cli: CliValues, env: NodeJS.ProcessEnv, cwd: string): string | null {
  const given = (cli.config as string | undefined) ?? env[envVarName('config')];
  if (given) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
    return path;
  }
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** How many times each config file was read: a HUP must evaluate the file again, not its cached module. */
const reads = new Map<string, number>();

export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let data: unknown;
  try {
    if (extname(path) === '.json') {
      data = JSON.parse(readFileSync(path, 'utf8')); // a small file, once: node:fs/promises costs ~2 ms to load
    } else {
      // import() caches by URL (a new query string loads the file again) and CommonJS by path.
      const n = (reads.get(path) ?? 0) + 1;
      reads.set(path, n);
      delete createRequire(path).cache[path];
      const mod = await importFile(`${pathToFileURL(path).href}${n > 1 ? `?reload=${n}` : ''}`);
      data = mod.default ?? mod;
      if (typeof data === 'function') data = await (data as () => unknown)();
    }
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config file ${path} must hold an object of settings`);
  }
  return data as Record<string, unknown>;
}

export interface ResolvedConfig {
  settings: Settings;
  configFile: string | null;
  /** Where each setting's value came from, for --print-config and diagnostics. */
  sources: Record<SettingName, 'default' | 'file' | 'env' | 'cli'>;
}

export async function resolveSettings(cli: CliValues, env: NodeJS.ProcessEnv, cwd: string): Promise<ResolvedConfig> {
  const configFile = findConfigFile(cli, env, cwd);
  const fileValues: CliValues = {};
  if (configFile) {
    for (const [key, value] of Object.entries(await readConfigFile(configFile))) {
      const name = settingKey(key);
      if (!name || SETTINGS[name].notInFile) {
        throw new ConfigError(`unknown setting "${key}" in ${configFile}; see narwhal --help for the settings`);
      }
      fileValues[name] = value;
    }
  }
  const settings = {} as Record<string, unknown>;
  const sources = {} as ResolvedConfig['sources'];
  for (const spec of SETTING_LIST) {
    const name = spec.name as SettingName;
    const envName = envVarName(name);
    let value = typeof spec.default === 'function' ? undefined : spec.default;
    let source: ResolvedConfig['sources'][SettingName] = 'default';
    if (typeof spec.default === 'function') {
      try {
        value = (spec.default as (e: NodeJS.ProcessEnv) => unknown)(env);
      } catch (err) {
        if (!(err instanceof InvalidValue)) throw err;
        throw new ConfigError(`invalid default for ${name} from the environment: ${err.allowed}`);
      }
    }
    if (name in fileValues) [value, source] = [parseValue(spec, fileValues[name], `in ${configFile}`, cwd), 'file'];
    if (!spec.fileOnly && env[envName] !== undefined && env[envName] !== '') [value, source] = [parseValue(spec, env[envName], envName, cwd), 'env'];
    if (cli[name] !== undefined) [value, source] = [parseValue(spec, cli[name], longFlag(spec) ?? name, cwd), 'cli'];
    settings[name] = value;
    sources[name] = source;
  }
  checkTimeouts(settings as Settings);
  oneFormatPerStream(settings as Settings, sources);
  return { settings: settings as Settings, configFile, sources };
}

/**
 * With --log-format json and no access_logformat of its own, access lines are JSON too: the two
 * logs often share a stream (stdout and stderr of a container both go to one collector), and a
 * shipper that parses JSON drops the CLF lines. An access_logformat given anywhere still wins.
 */
function oneFormatPerStream(settings: Settings, sources: ResolvedConfig['sources']): void {
  if (settings.log_format === 'json' && sources.access_logformat === 'default') settings.access_logformat = 'json';
}

/** Node refuses a headers timeout longer than the request timeout (the headers are part of it). */
function checkTimeouts({ header_timeout: header, request_timeout: request }: Settings): void {
  if (header > 0 && request > 0 && header > request) {
    throw new ConfigError(`invalid value for header_timeout: ${header}s is longer than request_timeout (${request}s); allowed: at most request_timeout, or 0`);
  }
}

/** `name = value` lines, in registry order. */
export function formatSettings(settings: Settings): string[] {
  return SETTING_LIST.filter((s) => !s.notInFile).map((spec) => {
    const value = settings[spec.name as SettingName];
    return `${spec.name} = ${(spec.type.format as (v: unknown) => string)(value)}`;
  });
}
