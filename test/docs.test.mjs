// The README's settings table is the registry's: regenerate it with `npm run docs`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docsHooksTable, hooksTable, settingsTable, readmeTable } from '../build/settings-table.mjs';
import { ROOT, runCli } from './helpers/server.mjs';

test('README settings table equals the one generated from the registry', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.is(readmeTable(readme), await settingsTable(), 'run `npm run docs`');
});

test('docs/operations.md hooks table equals the one generated from the registry', async () => {
  const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
  assert.is(docsHooksTable(doc), await hooksTable(), 'run `npm run docs`');
});

test('every setting in --print-config has a row in the README and a flag in --help', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const printed = (await runCli(['--print-config'])).stdout.split('\n').filter((l) => / = /.test(l) && !l.startsWith('#'));
  const help = (await runCli(['--help'])).stdout;
  assert.ok(printed.length >= 15);
  for (const line of printed) {
    const name = line.split(' = ')[0];
    assert.ok(readme.includes(`| \`${name}\` |`), `README row for ${name}`);
    // Server hooks (camelCase functions, config file only) are listed by name in --help.
    const flag = /^[a-z]+[A-Z]/.test(name) ? `  ${name}(` : { proc_name: '--name', raw_env: '--env', reload_extra_files: '--reload-extra-file' }[name] ?? `--${name.replace(/_/g, '-')}`;
    if (name !== 'app') assert.ok(help.includes(flag), `--help has ${flag} for ${name}`);
  }
});

test.run();
