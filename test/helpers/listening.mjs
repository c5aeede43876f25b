// Which TCP sockets a set of processes holds in LISTEN state, read from /proc (no ss/lsof):
// to see that no process of a server binds what it should not (a stray *:3000, say).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const LISTEN = '0A';

/** IPv4 "0100007F" / IPv6 32 hex digits (host-order 32-bit words) to a printable address. */
function decodeAddress(hex) {
  const bytes = hex.match(/.{8}/g).flatMap((w) => w.match(/../g).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; i++) {
    let len = 0;
    while (i + len < 8 && groups[i + len] === 0) len++;
    if (len > best.len) best = { at: i, len };
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best.at < 0) return hexes.join(':');
  return `${hexes.slice(0, best.at).join(':')}::${hexes.slice(best.at + best.len).join(':')}`;
}

function listeningByInode(pid) {
  const byInode = new Map();
  for (const table of ['tcp', 'tcp6']) {
    let text;
    try { text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8'); } catch { continue; }
    for (const line of text.trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== LISTEN) continue;
      const [addr, port] = cols[1].split(':');
      byInode.set(cols[9], { address: decodeAddress(addr), port: parseInt(port, 16) });
    }
  }
  return byInode;
}

/** [{ pid, address, port }] for every listening TCP socket held by one of PIDS. */
export function listeningSockets(pids) {
  const found = [];
  for (const pid of pids) {
    let fds;
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    const byInode = listeningByInode(pid);
    for (const fd of fds) {
      let target;
      try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && byInode.has(inode)) found.push({ pid, ...byInode.get(inode) });
    }
  }
  return found;
}
