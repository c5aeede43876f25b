export default defineEventHandler(() => `nitro pid=${process.pid}`);
