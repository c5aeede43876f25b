// -u/--user and -g/--group: the identity workers run as when the master starts as root
// (Gunicorn's). Names are looked up in /etc/passwd and /etc/group; numbers are taken as ids.
import { readFileSync } from 'node:fs';

export interface WorkerIdentity {
  uid?: number;
  gid?: number;
}

function lookup(file: string, name: string, field: 'id' | 'gid', by: 'name' | 'id' = 'name'): number | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const cols = line.split(':');
    if (cols.length > 3 && (by === 'name' ? cols[0] === name : cols[2] === name)) return Number(cols[field === 'id' ? 2 : 3]);
  }
  return undefined;
}

/** Resolves the settings to ids; throws a message naming the setting when it cannot. */
export function resolveIdentity(user: string | null, group: string | null, root = '/etc'): WorkerIdentity {
  const identity: WorkerIdentity = {};
  if (user) {
    const uid = /^\d+$/.test(user) ? Number(user) : lookup(`${root}/passwd`, user, 'id');
    if (uid === undefined) throw new Error(`invalid value for user: "${user}"; allowed: a user name in ${root}/passwd or a numeric uid`);
    identity.uid = uid;
    // Like Gunicorn, a user's own group unless -g says otherwise; for a numeric uid, the group of
    // its passwd entry (never the master's gid 0 by default).
    if (!group) {
      identity.gid = lookup(`${root}/passwd`, user, 'gid', /^\d+$/.test(user) ? 'id' : 'name');
      if (identity.gid === undefined && uid !== process.getuid?.()) {
        throw new Error(`invalid value for user: "${user}" has no entry in ${root}/passwd to take its group from; give group too (-g GID; -g 0 if root's group is really meant)`);
      }
    }
  }
  if (group) {
    const gid = /^\d+$/.test(group) ? Number(group) : lookup(`${root}/group`, group, 'id');
    if (gid === undefined) throw new Error(`invalid value for group: "${group}"; allowed: a group name in ${root}/group or a numeric gid`);
    identity.gid = gid;
  }
  const switching = (identity.uid !== undefined && identity.uid !== process.getuid?.())
    || (identity.gid !== undefined && identity.gid !== process.getgid?.());
  if (switching && process.getuid?.() !== 0) {
    throw new Error(`user/group: running workers as ${user ?? ''}${group ? `:${group}` : ''} needs a master started as root`);
  }
  return identity;
}
