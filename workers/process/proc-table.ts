/**
 * What /proc says about processes: a process's stat line (state, parent, process group, session, start time)
 * and the environment it was started with (what it inherited, whatever its name or command line says; the
 * environment tags of processes.ts are found this way). A process that is gone, or not ours to read, is left out.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessStat {
  pid: number;
  /** R, S, D, T, Z (a zombie: gone but for its exit status), … */
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
  /** Clock ticks after boot. With the pid it names one process for good: a reused pid has another. */
  startTime: string;
}

export function readStat(pid: number): ProcessStat | undefined {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2, the command name, is in parentheses and may hold spaces and parentheses itself.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]), startTime: fields[19]! };
}

/** The program a process runs (argv[0]), for messages; '' if gone. */
export async function commandOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')[0] ?? '';
}

export interface TaggedProcess {
  pid: number;
  /** The value of the tag in its environment. */
  value: string;
  stat: ProcessStat;
}

/** Every live process (zombies left out) whose environment sets `name`, with its value. */
export async function processesTagged(name: string): Promise<TaggedProcess[]> {
  const prefix = `${name}=`;
  const found: TaggedProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    const variable = environ.split('\0').find((item) => item.startsWith(prefix));
    if (variable === undefined) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.state !== 'Z') found.push({ pid: stat.pid, value: variable.slice(prefix.length), stat });
  }
  return found;
}
