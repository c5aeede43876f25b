// The command line, generated from the settings registry with cac.
import { cac } from 'cac';
import { SETTING_LIST, type SettingName } from './settings';
import { ConfigError, type CliValues } from './load';

export interface ParsedArgs {
  values: CliValues;
  help: boolean;
  version: boolean;
  helpText: () => string;
}

const camel = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function parseArgs(argv: string[]): ParsedArgs {
  const cli = cac('narwhal');
  cli.usage('[options] APP\n\n  APP is path/to/file[:export] or path/to/file:factory()');
  const command = cli.command('[app]', 'Serve APP with a supervised pool of worker processes');
  for (const spec of SETTING_LIST) {
    if (!spec.flag) continue;
    const defaultText = spec.defaultText ?? (typeof spec.default === 'function' ? '' : String(spec.default ?? ''));
    const shown = defaultText && !spec.flag.includes('<') ? '' : defaultText ? ` (default: ${defaultText})` : '';
    command.option(spec.flag, `${spec.help}${shown}`);
  }
  command.option('-v, --version', 'Print the narwhal and Node.js versions');
  command.option('-h, --help', 'Display this message');

  let parsed: ReturnType<typeof cli.parse>;
  try {
    // "-" as a value (stdout, stderr) would read as a flag: `--access-logfile -` -> `--access-logfile=-`.
    const joined: string[] = [];
    for (const a of argv) {
      const prev = joined[joined.length - 1];
      if (a === '-' && prev !== undefined && /^--[a-z-]+$/.test(prev)) joined[joined.length - 1] = `${prev}=-`;
      else joined.push(a);
    }
    parsed = cli.parse(['node', 'narwhal', ...joined], { run: false });
    (command as unknown as { checkUnknownOptions(): void }).checkUnknownOptions();
    (command as unknown as { checkOptionValue(): void }).checkOptionValue();
  } catch (err) {
    throw new ConfigError((err as Error).message.replace(/`/g, ''));
  }
  const { options } = parsed;
  const args = [...parsed.args];
  // cac hands mri camelCased names for boolean flags, so `--check-config app.js` arrives as
  // checkConfig = "app.js": give such a value back to the positional arguments.
  for (const spec of SETTING_LIST) {
    const flag = spec.flag;
    if (!flag || flag.includes('<')) continue;
    const key = camel(flag.match(/--[a-z0-9-]+/)![0]);
    if (typeof options[key] === 'string' || typeof options[key] === 'number') {
      args.unshift(String(options[key]));
      options[key] = true;
    }
  }
  if (args.length > 1) throw new ConfigError(`expected one APP, got ${args.length}: ${args.join(' ')}`);
  const values: CliValues = {};
  for (const spec of SETTING_LIST) {
    const flag = spec.flag?.match(/--([a-z0-9-]+)/)?.[0];
    if (!flag) continue;
    const value = options[camel(flag)];
    if (value !== undefined) values[spec.name as SettingName] = value;
  }
  if (args[0] !== undefined) values.app = String(args[0]);
  return {
    values,
    help: Boolean(options.help),
    version: Boolean(options.version),
    helpText: () => {
      // cac only prints its help; capture it so the caller decides where it goes.
      const lines: string[] = [];
      const info = console.info;
      console.info = (s: string) => { lines.push(s); };
      try { cli.outputHelp(); } finally { console.info = info; }
      return `${lines.join('\n')}\n`;
    },
  };
}
