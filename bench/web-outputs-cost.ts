/**
 * Issue 3's measure: the CPU of one 720p30 web egress writing a file only, beside the same egress
 * writing file + HLS (4 s) + RTMP (to a real nginx-rtmp) + JPEG images (every 2 s), in the same run.
 * Outputs share the one capture and the one x264 encode, so the second should stay close to the first.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Supervisor } from '../workers/process/processes.ts';
import type { RecordingStart } from '../workers/recording/recorder-contract.ts';
import { StreamFanout } from '../workers/streams/stream-fanout.ts';
import { recordWeb } from '../workers/web/web-recorder.ts';
import { TEST_RECORDER_SETTINGS, webPlan, type PlanOptions } from '../test/support/plans.ts';
import { startRtmpServer } from '../test/support/rtmp-server.ts';
import { startTestPage } from '../test/support/test-page.ts';
import { fmt, sampleTree } from './stats.ts';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);

async function measure(options: PlanOptions, rtmpUrl?: string): Promise<{ cores: number; segments: number; images: number }> {
  const plan = webPlan(options);
  const workDir = await mkdtemp(join(tmpdir(), 'bench-outputs-'));
  const log = pino({ level: 'warn' });
  const supervisor = new Supervisor(log, {});
  const fanout = rtmpUrl
    ? new StreamFanout({ ffmpegPath: 'ffmpeg', supervisor, log, urlPolicy: { allow: [], deny: [], denyPrivate: false } })
    : undefined;
  let segments = 0;
  let images = 0;
  let sampler: ReturnType<typeof sampleTree> | undefined;
  let active!: () => void;
  const activeNow = new Promise<void>((resolve) => (active = resolve));
  const start: RecordingStart = {
    plan,
    workDir,
    outputs: {
      file: { path: join(workDir, 'out.mp4') },
      segments: { dir: join(workDir, 'segments'), onSegment: () => void (segments += 1) },
      images: { dirs: plan.images.map((_, i) => join(workDir, `images-${i}`)), onImage: () => void (images += 1) },
      ...(fanout && rtmpUrl
        ? {
            stream: {
              onStream: (ts) => {
                fanout.attach(ts);
                fanout.add({ id: 'bench', url: rtmpUrl, redactedUrl: 'rtmp://bench', protocol: 'rtmp' });
              },
            },
          }
        : {}),
    },
    settings: TEST_RECORDER_SETTINGS,
    log,
    onActive: () => {
      // With the root: the RTMP publisher runs in the worker's (here the bench's) own process.
      sampler = sampleTree(process.pid, { withRoot: true });
      active();
    },
  };
  await Promise.all(start.outputs.images!.dirs.map((d) => mkdir(d, { recursive: true })));
  const recording = recordWeb(start);
  await Promise.race([activeNow, recording.done]);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const usage = await sampler!.stop();
  recording.stop('bench');
  await recording.done;
  await fanout?.stop();
  await supervisor.killAll();
  await rm(workDir, { recursive: true, force: true });
  return { cores: usage.cores, segments, images };
}

export async function benchWebOutputsCost(): Promise<string[]> {
  const page = await startTestPage();
  const rtmp = await startRtmpServer();
  try {
    const fileOnly = await measure({ url: page.url });
    const all = await measure(
      { url: page.url, segments: { durationSec: 4 }, images: [{ width: 640, height: 360, intervalSec: 2 }], stream: true },
      rtmp.url('good-bench'),
    );
    return [
      `(d) One 720p30 web egress, ${SECONDS} s, CPU cores of the bench process (the worker's part: the RTMP publisher) and every process below it (Chromium, Xvfb, ffmpeg, stream copy, and the nginx-rtmp receiving it)`,
      `    file only                      : ${fmt(fileOnly.cores)} cores`,
      `    file + HLS + RTMP + images     : ${fmt(all.cores)} cores (${all.segments} segments, ${all.images} images, RTMP to nginx-rtmp)`,
      `    ratio (all outputs / file only): ×${fmt(all.cores / fileOnly.cores)}`,
    ];
  } finally {
    await rtmp.stop();
    await page.close();
  }
}
