/**
 * How every child of ours is started (processes.ts, Chromium, pactl, salvage's ffmpeg): tagged with its owner
 * and dying with this process.
 *
 * - Its environment gets EGRESS_OWNER (owner-tag.ts): whatever is left of it after a crash can be told apart.
 * - It is killed by the kernel when this Node process dies, however it dies (SIGKILL, the OOM killer, a crash:
 *   no 'exit' handler runs then): util-linux `setpriv --pdeathsig SIGKILL` sets PR_SET_PDEATHSIG on itself and
 *   execs the program in place (same pid, same process group, the same inherited file descriptors). The signal
 *   comes when the *thread* that forked it dies: Node spawns on its main thread, which lives as long as the
 *   process. It covers the program, not what it forks (the group watchdog, group-watchdog.ts, ends those), nor a
 *   child whose parent dies before setpriv has set it (the watchdog's tag scan ends those). A host without
 *   setpriv runs programs as they are, and the watchdog alone ends them.
 */
import { existsSync } from 'node:fs';
import { OWN_OWNER, OWNER_TAG } from './owner-tag.ts';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

export interface OwnedChild {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** What to spawn (or execFile) to run `command args` with `env` (default: ours) as a child of ours. */
export function ownedChild(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): OwnedChild {
  const tagged = { ...env, [OWNER_TAG]: OWN_OWNER };
  return SETPRIV ? { command: SETPRIV, args: ['--pdeathsig', 'SIGKILL', '--', command, ...args], env: tagged } : { command, args, env: tagged };
}
