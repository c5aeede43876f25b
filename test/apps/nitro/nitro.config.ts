// Nitro 2, built for Node: the node-server preset writes .output/server/index.mjs, which
// listens itself (NITRO_PORT or PORT, else 3000).
import { defineNitroConfig } from 'nitropack/config';

export default defineNitroConfig({
  preset: 'node-server',
  compatibilityDate: '2025-07-01',
});
