/**
 * (c) What one web recording costs: CPU cores, peak memory (PSS, the honest sum over Chromium's processes) and the share of duplicated or dropped frames, for
 * 720p30 and 1080p30, beside the baseline of ffmpeg alone encoding x11grab frames of the same size with the
 * same encoder settings (Xvfb + ffmpeg, no browser), measured in the same run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { videoEncodeArgs } from '../workers/capture/ffmpeg-capture.ts';
import { recordWeb } from '../workers/web/web-recorder.ts';
import { Supervisor } from '../workers/process/processes.ts';
import { startXvfb } from '../workers/web/xvfb.ts';
import { webPlan, TEST_RECORDER_SETTINGS } from '../test/support/plans.ts';
import { startTestPage } from '../test/support/test-page.ts';
import { fmt, sampleTree } from './stats.ts';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const SIZES = [
  { name: '720p30', width: 1280, height: 720 },
  { name: '1080p30', width: 1920, height: 1080 },
];

interface Cost {
  cores: number;
  peakPssMb: number;
  badFrameShare: number;
}

async function webRecording(url: string, width: number, height: number): Promise<Cost> {
  const plan = webPlan({ url, width, height });
  const workDir = await mkdtemp(join(tmpdir(), 'bench-web-'));
  // Measured from the first frame on: the steady cost of recording, not the start-up.
  let sampler: ReturnType<typeof sampleTree> | undefined;
  let active!: () => void;
  const activeNow = new Promise<void>((resolve) => (active = resolve));
  const recording = recordWeb({
    plan,
    workDir,
    outputs: { file: { path: join(workDir, 'out.mp4') } },
    settings: TEST_RECORDER_SETTINGS,
    log: pino({ level: 'warn' }),
    onActive: () => {
      sampler = sampleTree(process.pid);
      active();
    },
  });
  await Promise.race([activeNow, recording.done]);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const usage = await sampler!.stop();
  recording.stop('bench');
  const result = await recording.done;
  await rm(workDir, { recursive: true, force: true });
  const { frames, duplicated, dropped } = result.stats;
  return { cores: usage.cores, peakPssMb: usage.peakPssBytes / 2 ** 20, badFrameShare: (duplicated + dropped) / Math.max(1, frames) };
}

/** The baseline: Xvfb and one ffmpeg grabbing and encoding it, nothing else. */
async function rawCapture(width: number, height: number): Promise<Cost> {
  const plan = webPlan({ url: 'about:blank', width, height, audio: false });
  const supervisor = new Supervisor(pino({ level: 'warn' }), {});
  const workDir = await mkdtemp(join(tmpdir(), 'bench-raw-'));
  try {
    const display = await startXvfb(supervisor, plan.encoding);
    // Measured once ffmpeg runs, as the web recording is measured from its first frame.
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'x11grab',
      '-draw_mouse',
      '0',
      '-framerate',
      '30',
      '-video_size',
      `${width}x${height}`,
      '-i',
      display.display,
      ...videoEncodeArgs(plan),
      '-t',
      String(SECONDS),
      '-y',
      join(workDir, 'raw.mp4'),
    ];
    const ffmpeg = spawn('ffmpeg', args, { stdio: 'ignore' });
    const sampler = sampleTree(process.pid);
    await new Promise<void>((resolve, reject) => ffmpeg.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`)))));
    const usage = await sampler.stop();
    return { cores: usage.cores, peakPssMb: usage.peakPssBytes / 2 ** 20, badFrameShare: NaN };
  } finally {
    await supervisor.killAll();
    await rm(workDir, { recursive: true, force: true });
  }
}

export async function benchWebCaptureCost(): Promise<string[]> {
  const page = await startTestPage();
  const lines = [`(c) Cost of one web recording, ${SECONDS} s each, on ${(await import('node:os')).availableParallelism()} cores`];
  try {
    for (const size of SIZES) {
      const web = await webRecording(page.url, size.width, size.height);
      const raw = await rawCapture(size.width, size.height);
      lines.push(
        `    ${size.name} web egress : ${fmt(web.cores)} cores, peak memory ${fmt(web.peakPssMb, 0)} MB PSS, duplicated+dropped ${fmt(web.badFrameShare * 100, 2)} %`,
        `    ${size.name} raw ffmpeg : ${fmt(raw.cores)} cores, peak memory ${fmt(raw.peakPssMb, 0)} MB PSS (Xvfb + x11grab + x264, static screen)`,
        `    ${size.name} ratio      : CPU ×${fmt(web.cores / raw.cores)}  memory ×${fmt(web.peakPssMb / raw.peakPssMb)}`,
      );
    }
  } finally {
    await page.close();
  }
  return lines;
}
