// Loads the user's app module and turns whatever it exports into a Node request listener.
import { existsSync } from 'node:fs';
import { extname, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseAppSpec } from './app-spec';
import { toRequestListener } from './adapters';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
/** Node's 'upgrade' event handler: WebSockets (ws, socket.io) and other protocol switches. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface LoadedApp {
  listener: RequestListener;
  kind: string;
  /** Called when the worker stops (Fastify's onClose hooks, for instance). */
  close?: () => Promise<void>;
  /** The module's `upgrade` export, attached to the worker's servers' 'upgrade' event. */
  upgrade?: UpgradeListener;
}

/** A refusal the user can act on: printed as one line, no stack trace. */
export class AppLoadError extends Error {}

function canStripTypes(): boolean {
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object).slice(0, 6);
    return `an object with keys [${keys.join(', ')}]`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}

export async function loadApp(spec: string, cwd: string): Promise<LoadedApp> {
  const { file, exportName, factory } = parseAppSpec(spec, cwd);
  const shown = relative(cwd, file) || file;
  if (!existsSync(file)) throw new AppLoadError(`app file not found: ${file}`);
  if (['.ts', '.mts', '.cts'].includes(extname(file)) && !canStripTypes()) {
    throw new AppLoadError(
      `cannot load ${shown}: Node.js ${process.version} cannot strip TypeScript types; ` +
      'use the narwhal binary (Node 24) or compile the app to JavaScript');
  }
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  // import() of CommonJS puts module.exports on `default` (and copies its named exports).
  const exportsObject = mod.default as Record<string, unknown> | undefined;
  let name: string;
  let value: unknown;
  if (exportName) {
    name = exportName;
    value = exportName in mod ? mod[exportName] : exportsObject?.[exportName];
  } else if (mod.default !== undefined && toRequestListener.accepts(mod.default)) {
    [name, value] = ['default', mod.default];
  } else if (mod.app !== undefined || exportsObject?.app !== undefined) {
    [name, value] = ['app', mod.app ?? exportsObject?.app];
  } else {
    [name, value] = ['default', mod.default];
  }
  if (value === undefined) {
    throw new AppLoadError(`${shown} has no export "${name}" (exports: ${Object.keys(mod).join(', ') || 'none'})`);
  }
  if (factory) {
    if (typeof value !== 'function') throw new AppLoadError(`${shown}: "${name}()" is a factory call but "${name}" is ${describe(value)}`);
    value = await (value as () => unknown)();
  }
  const adapted = await toRequestListener(value);
  if (!adapted) {
    throw new AppLoadError(
      `${shown}: export "${name}${factory ? '()' : ''}" is ${describe(value)}; expected a request listener ` +
      '(req, res) => void, an object with fetch(request), a Koa app or a Fastify instance');
  }
  const upgrade = mod.upgrade ?? exportsObject?.upgrade;
  if (upgrade !== undefined && typeof upgrade !== 'function') {
    throw new AppLoadError(`${shown}: export "upgrade" is ${describe(upgrade)}; expected (req, socket, head) => void`);
  }
  return upgrade ? { ...adapted, upgrade: upgrade as UpgradeListener } : adapted;
}
