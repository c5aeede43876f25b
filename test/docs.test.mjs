// The README's settings table is the registry's: regenerate it with `npm run docs`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { settingsTable, readmeTable } from '../build/settings-table.mjs';
import { ROOT, runCli } from './helpers/server.mjs';

test('README settings table equals the one generated from the registry', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.is(readmeTable(readme), await settingsTable(), 'run `npm run docs`');
});

test('every setting in --print-config has a row in the README and a flag in --help', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const printed = (await runCli(['--print-config'])).stdout.split('\n').filter((l) => / = /.test(l) && !l.startsWith('#'));
  const help = (await runCli(['--help'])).stdout;
  assert.ok(printed.length >= 15);
  for (const line of printed) {
    const name = line.split(' = ')[0];
    assert.ok(readme.includes(`| \`${name}\` |`), `README row for ${name}`);
    const flag = { proc_name: '--name' }[name] ?? `--${name.replace(/_/g, '-')}`;
    if (name !== 'app') assert.ok(help.includes(flag), `--help has ${flag} for ${name}`);
  }
});

test.run();
