/** Small statistics and /proc sampling helpers for the benchmarks. */
import { readdir, readFile } from 'node:fs/promises';

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i]!;
}

export function summarize(samplesMs: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

interface ProcSample {
  pid: number;
  ppid: number;
  cpuTicks: number;
  /** Proportional set size: shared pages divided among their users, so a sum over Chromium's processes is honest. */
  pssBytes: number;
}

async function readProc(pid: string): Promise<ProcSample | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] = state (field 3); utime = field 14, stime = field 15
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    const pssKb = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    return { pid: Number(pid), ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]), pssBytes: pssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** Every process below `root` (not `root` itself). */
export async function descendants(root: number): Promise<ProcSample[]> {
  const all = (await Promise.all((await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(readProc))).filter((p): p is ProcSample => !!p);
  const byParent = new Map<number, ProcSample[]>();
  for (const p of all) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  const out: ProcSample[] = [];
  const walk = (pid: number) => {
    for (const child of byParent.get(pid) ?? []) {
      out.push(child);
      walk(child.pid);
    }
  };
  walk(root);
  return out;
}

/**
 * Samples the CPU time and memory (PSS) of the processes below `root` (and of `root` itself, withRoot) every 250 ms until stopped. CPU is counted
 * per process from first to last sight, so processes that come and go are included.
 */
export function sampleTree(
  root: number,
  options: { withRoot?: boolean } = {},
): { stop(): Promise<{ cores: number; peakPssBytes: number; seconds: number }> } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let peakPss = 0;
  const started = performance.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      const tree = await descendants(root);
      const self = options.withRoot ? await readProc(String(root)) : undefined;
      if (self) tree.push(self);
      let pss = 0;
      for (const p of tree) {
        if (!first.has(p.pid)) first.set(p.pid, p.cpuTicks);
        last.set(p.pid, p.cpuTicks);
        pss += p.pssBytes;
      }
      peakPss = Math.max(peakPss, pss);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const seconds = (performance.now() - started) / 1000;
      let ticks = 0;
      for (const [pid, end] of last) ticks += end - (first.get(pid) ?? end);
      return { cores: ticks / CLOCK_TICKS / seconds, peakPssBytes: peakPss, seconds };
    },
  };
}

export const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
