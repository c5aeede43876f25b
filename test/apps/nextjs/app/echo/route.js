// A route handler: GET says who answered, POST echoes its JSON body.
export async function GET() {
  return new Response(`next route pid=${process.pid}`, { headers: { 'content-type': 'text/plain' } });
}

export async function POST(request) {
  return Response.json(await request.json());
}
