// Rendered on each request (it shows the serving process).
export const dynamic = 'force-dynamic';

export default function Home() {
  return <main>{`next page pid=${process.pid}`}</main>;
}
