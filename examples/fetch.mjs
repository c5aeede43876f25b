// The web-standard `export default { fetch }` of Bun, Deno and Workers: `narwhal examples/fetch.mjs`
export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    return Response.json({ hello: 'fetch', path: pathname, worker: process.pid });
  },
};
