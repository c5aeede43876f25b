// The command line, generated from the settings registry and read with node:util's parseArgs:
// values arrive as the user typed them (a umask of 0022 stays "0022"), and a mistake is
// reported in the user's own spelling, with the nearest valid flag suggested.
import { parseArgs as parseArgv } from 'node:util';
import { closest, distance } from 'fastest-levenshtein';
import { SETTING_LIST, type SettingName, type SettingSpec } from './settings';
import { ConfigError, type CliValues } from './load';
import { helpText } from './help';

export interface ParsedArgs {
  values: CliValues;
  help: boolean;
  version: boolean;
  helpText: () => string;
}

interface Flag {
  long: string;
  short?: string;
  takesValue: boolean;
  spec?: SettingSpec<unknown>;
}

/** '-w, --workers <n>' -> { long: 'workers', short: 'w', takesValue: true }. */
function readFlag(spec: SettingSpec<unknown>): Flag | null {
  const m = /^(?:-([a-zA-Z]), )?--([a-z0-9-]+)( <[^>]+>)?$/.exec(spec.flag ?? '');
  return m ? { long: m[2]!, short: m[1], takesValue: Boolean(m[3]), spec } : null;
}

export const FLAGS: readonly Flag[] = [
  ...SETTING_LIST.map(readFlag).filter((f): f is Flag => f !== null),
  { long: 'version', short: 'v', takesValue: false },
  { long: 'help', short: 'h', takesValue: false },
];

/** The valid flag nearest to what the user typed, if it is near enough to be a typo. */
export function suggestFlag(typed: string): string | null {
  const name = typed.replace(/^-+/, '').toLowerCase();
  if (name.length < 2) return null;
  const longs = FLAGS.map((f) => f.long);
  const best = closest(name, longs);
  const prefix = longs.find((l) => l.startsWith(name));
  if (distance(name, best) <= Math.max(2, Math.floor(name.length / 3))) return `--${best}`;
  return prefix ? `--${prefix}` : null;
}

export function parseArgs(argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const f of FLAGS) {
    options[f.long] = { type: f.takesValue ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}), ...(f.spec?.repeatable ? { multiple: true } : {}) };
  }
  // Not strict: unknown options and missing values are reported here, in narwhal's words.
  const { tokens } = parseArgv({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const byLong = new Map(FLAGS.map((f) => [f.long, f]));
  const raw: Record<string, string | string[] | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const flag = byLong.get(token.name);
    if (!flag) {
      const hint = token.rawName.startsWith('--') ? suggestFlag(token.rawName) : null;
      throw new ConfigError(`unknown option ${token.rawName}${hint ? `; did you mean ${hint}?` : ''} (see narwhal --help)`);
    }
    if (flag.takesValue && token.value === undefined) {
      throw new ConfigError(`option ${token.rawName} needs a value: ${flag.spec?.flag ?? token.rawName}`);
    }
    if (!flag.takesValue && token.value !== undefined) {
      throw new ConfigError(`option ${token.rawName} takes no value (got "${token.value}")`);
    }
    const value = token.value ?? true;
    // A repeatable flag given once is its string (a list type splits it on commas, as a
    // NARWHAL_* variable is split); given again, the values are collected into a list.
    const before = raw[flag.long];
    raw[flag.long] = flag.spec?.repeatable && before !== undefined ? [...[before].flat() as string[], String(value)] : value;
  }
  if (positionals.length > 1) throw new ConfigError(`expected one APP, got ${positionals.length}: ${positionals.join(' ')}`);
  const values: CliValues = {};
  for (const f of FLAGS) {
    if (f.spec && raw[f.long] !== undefined) values[f.spec.name as SettingName] = raw[f.long];
  }
  if (positionals[0] !== undefined) values.app = positionals[0];
  return { values, help: Boolean(raw.help), version: Boolean(raw.version), helpText };
}
