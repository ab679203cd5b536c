/**
 * X displays a dead X server left behind. Xvfb started with -displayfd (xvfb.ts) takes the first display whose
 * sockets it can bind — an abstract one, @/tmp/.X11-unix/X<n>, and the file /tmp/.X11-unix/X<n> — and writes no
 * lock file; killed with SIGKILL it leaves the socket file behind. Other X servers also keep /tmp/.X<n>-lock,
 * holding their pid. A display is live while a process listens on either of its sockets (/proc/net/unix) or its
 * lock names a running process: then nothing of it is touched. Otherwise its socket file and lock file go, if
 * ours (our uid). Safe against a server starting on the display meanwhile: a file is moved aside (atomic), the
 * display looked at again, and the file put back (a hard link: never over a newer one) if it has come alive.
 */
import { link, lstat, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readStat } from '../process/proc-table.ts';

const X_TMP = '/tmp';
const SOCKET_DIR = join(X_TMP, '.X11-unix');
/** /proc/net/unix flag of a listening socket (__SO_ACCEPTCON). */
const LISTENING = 0x10000;

const lockPath = (display: number) => join(X_TMP, `.X${display}-lock`);
const socketPath = (display: number) => join(SOCKET_DIR, `X${display}`);

/** Removes the socket and lock files of displays no X server runs any more; returns those displays. */
export async function reapStaleDisplays(): Promise<number[]> {
  const displays = new Set<number>();
  for (const name of await readdir(X_TMP).catch(() => [])) {
    const match = /^\.X(\d+)-lock$/.exec(name);
    if (match) displays.add(Number(match[1]));
  }
  for (const name of await readdir(SOCKET_DIR).catch(() => [])) {
    const match = /^X(\d+)$/.exec(name);
    if (match) displays.add(Number(match[1]));
  }
  const freed: number[] = [];
  for (const display of displays) {
    if (await displayLive(display)) continue;
    const socketGone = await removeIfStale(socketPath(display), display);
    const lockGone = await removeIfStale(lockPath(display), display);
    if (socketGone || lockGone) freed.push(display);
  }
  return freed;
}

/** The displays some process listens on (either socket), with the inodes of the listening sockets. */
export async function listeningDisplays(): Promise<Map<number, number[]>> {
  const byDisplay = new Map<number, number[]>();
  const table = await readFile('/proc/net/unix', 'latin1').catch(() => '');
  for (const line of table.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const fields = line.trim().split(/\s+/);
    const display = /^@?\/tmp\/\.X11-unix\/X(\d+)$/.exec(fields[7] ?? '')?.[1];
    if (display === undefined || (parseInt(fields[3] ?? '0', 16) & LISTENING) === 0) continue;
    byDisplay.set(Number(display), [...(byDisplay.get(Number(display)) ?? []), Number(fields[6])]);
  }
  return byDisplay;
}

async function displayLive(display: number): Promise<boolean> {
  return (await listeningDisplays()).has(display) || (await lockHeld(lockPath(display)));
}

/** Whether the file is an X lock naming a running process. */
async function lockHeld(path: string): Promise<boolean> {
  const pid = /^\s*(\d+)\s*$/.exec(await readFile(path, 'latin1').catch(() => ''))?.[1];
  const server = pid === undefined ? undefined : readStat(Number(pid));
  return server !== undefined && server.state !== 'Z';
}

/** Moves the file aside, looks at the display again, and removes it or puts it back. Only a file of our uid. */
async function removeIfStale(path: string, display: number): Promise<boolean> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat || stat.uid !== process.getuid?.() || !(stat.isSocket() || stat.isFile())) return false;
  const aside = join(X_TMP, `.egress-stale-X${display}-${process.pid}`);
  if (
    !(await rename(path, aside).then(
      () => true,
      () => false,
    ))
  )
    return false;
  // A lock moved aside counts too: a server that had just taken the display holds it.
  const live = (await displayLive(display)) || (await lockHeld(aside));
  if (live) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return !live;
}
