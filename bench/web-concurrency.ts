/**
 * (h) How many 720p30 web recordings this machine holds at once: 1, 2, 3, … recordings of the animated test
 * page started together, each for BENCH_RECORD_SECONDS; for each count the worst share of duplicated or
 * dropped frames among them (ffmpeg's own counts). The answer is the largest count under 1 %. LiveKit's
 * admission (web_cpu_cost 4) would admit none on a 2-core machine, and one on 4 cores.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { recordWeb } from '../workers/web/web-recorder.ts';
import { webPlan, TEST_RECORDER_SETTINGS } from '../test/support/plans.ts';
import { startTestPage } from '../test/support/test-page.ts';
import { fmt } from './stats.ts';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const MAX_COUNT = Number(process.env.BENCH_MAX_CONCURRENT ?? 5);
const BAD_FRAME_LIMIT = 0.01;

async function recordTogether(url: string, count: number): Promise<number[]> {
  const dirs = await Promise.all(Array.from({ length: count }, () => mkdtemp(join(tmpdir(), 'bench-conc-'))));
  try {
    const recordings = dirs.map((workDir) => {
      let active!: () => void;
      const started = new Promise<void>((resolve) => (active = resolve));
      const recording = recordWeb({
        plan: webPlan({ url, width: 1280, height: 720 }),
        workDir,
        outputs: { file: { path: join(workDir, 'out.mp4') } },
        settings: TEST_RECORDER_SETTINGS,
        log: pino({ level: 'warn' }),
        onActive: () => active(),
      });
      return { recording, started };
    });
    await Promise.all(recordings.map((r) => Promise.race([r.started, r.recording.done])));
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    for (const { recording } of recordings) recording.stop('bench');
    const results = await Promise.all(recordings.map((r) => r.recording.done));
    return results.map(({ stats }) => (stats.duplicated + stats.dropped) / Math.max(1, stats.frames));
  } finally {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

export async function benchWebConcurrency(): Promise<string[]> {
  const page = await startTestPage();
  const lines = [`(h) Concurrent 720p30 web recordings on ${availableParallelism()} cores, ${SECONDS} s each; worst duplicated+dropped share`];
  let held = 0;
  try {
    for (let count = 1; count <= MAX_COUNT; count++) {
      const shares = await recordTogether(page.url, count);
      const worst = Math.max(...shares);
      lines.push(`    ${count} at once : worst ${fmt(worst * 100, 2)} % (each: ${shares.map((s) => fmt(s * 100, 2)).join(', ')} %)`);
      if (worst >= BAD_FRAME_LIMIT) break;
      held = count;
    }
  } finally {
    await page.close();
  }
  lines.push(
    `    holds ${held} at under 1 % bad frames; LiveKit's admission (web_cpu_cost 4, max_cpu_utilization 0.8) admits ${Math.max(0, Math.floor((availableParallelism() * 0.8) / 4))} here (the first is always taken: 1)`,
  );
  return lines;
}
