// Next.js 16, self-hosted: `output: 'standalone'` makes .next/standalone/ with a server.js.
// The app lives in a folder of a bigger repository with its own lockfile, so the tracing root
// is set to that folder's parent (as Next's docs say for monorepos); server.js is then at
// .next/standalone/nextjs/server.js.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('next').NextConfig} */
const nextConfig = {
  output: 'standalone',
  outputFileTracingRoot: root,
  turbopack: { root },
};

export default nextConfig;
