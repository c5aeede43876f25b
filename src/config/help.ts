// `narwhal --help`: the settings registry grouped by section, as Gunicorn's settings reference
// groups its settings, followed by the server hooks (config-file only) and the subcommands.
import { SETTING_LIST, type Section, type SettingSpec } from './settings';

const TITLES: Record<Section, string> = {
  app: 'App and config file',
  server: 'Server socket and requests',
  workers: 'Worker processes',
  lifecycle: 'Shutdown',
  admin: 'Admin endpoints and control socket',
  logging: 'Logging',
  process: 'Process',
  development: 'Development',
  hooks: 'Server hooks (functions in a .js/.mjs/.cjs config file; see docs/operations.md)',
};

const WIDTH = 100;

function defaultNote(spec: SettingSpec<unknown>): string {
  if (!spec.flag?.includes('<')) return '';
  const text = spec.defaultText ?? (typeof spec.default === 'function' ? '' : (spec.type.format as (v: unknown) => string)(spec.default));
  return text ? ` (default: ${text})` : '';
}

/** Words of `text` in lines of at most `width` characters, the first after `head`, the rest indented. */
function wrap(head: string, text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = head.padEnd(indent);
  if (head.length >= indent) {
    lines.push(head);
    line = ' '.repeat(indent);
  }
  for (const word of text.split(' ')) {
    if (line.trim() !== '' && line.length > indent && line.length + 1 + word.length > WIDTH) {
      lines.push(line.trimEnd());
      line = ' '.repeat(indent);
    }
    line += (line.length > indent ? ' ' : '') + word;
  }
  lines.push(line.trimEnd());
  return lines;
}

export function helpText(): string {
  const out = [
    'Usage: narwhal [options] APP',
    '       narwhal ctl [--control-socket PATH] status [--json] | reload | scale N | incr | decr | reopen-logs | stop [--quick]',
    '',
    'APP is path/to/file[:export] or path/to/file:factory(). Every option is also an environment',
    'variable NARWHAL_<SETTING> and a config-file key; precedence: defaults < config file < environment',
    '< command line.',
  ];
  const indent = 34;
  const sections = [...new Set(SETTING_LIST.map((s) => s.section))];
  for (const section of sections) {
    out.push('', `${TITLES[section]}:`);
    for (const spec of SETTING_LIST.filter((s) => s.section === section)) {
      if (spec.hook) out.push(...wrap(`  ${spec.name}(${spec.hook.args})`, `in the ${spec.hook.where}: ${spec.help.split(': ').slice(1).join(': ')}`, indent));
      else if (spec.flag) out.push(...wrap(`  ${spec.flag}`, `${spec.help}${defaultNote(spec)}`, indent));
    }
  }
  out.push('', 'Other:');
  out.push(...wrap('  -v, --version', 'Print the narwhal and Node.js versions, the platform, build commit and date', indent));
  out.push(...wrap('  -h, --help', 'Print this help', indent));
  out.push(...wrap('  --healthcheck [URL]', "GET URL (default: /healthz on NARWHAL_ADMIN_BIND) and exit 0 on a 2xx, else 1 (the Docker image's HEALTHCHECK); must come first", indent));
  return `${out.join('\n')}\n`;
}
