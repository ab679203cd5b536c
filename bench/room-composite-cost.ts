/**
 * (f) What one room composite costs on a real LiveKit server: 2 and 4 participants (test publishers, 640×360
 * VP8 + Opus each) recorded at 720p30 through the built-in grid template. CPU cores and memory (PSS) of every
 * process started for the egress (Chromium, Xvfb, ffmpeg: tagged EGRESS_ID), duplicated+dropped frames, next
 * to LiveKit's reservation (room_composite_cpu_cost: 4 cores) and to the baseline of raw ffmpeg encoding
 * x11grab frames of the same size, measured in the same run.
 * (g) A/V sync over a long recording (BENCH_SYNC_SECONDS, default 300) of one participant, recorded at the
 * same time by a room composite (Chromium) and by a participant egress (the SDK path): the offset of each
 * beep from its flash, median, 95th percentile and drift from the first to the last minute.
 */
import { EgressStatus, EncodedFileOutput, EncodingOptionsPreset } from '@livekit/protocol';
import { dispose } from '@livekit/rtc-node';
import { EgressClient } from 'livekit-server-sdk';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { PassThrough } from 'node:stream';
import { measureAvSync } from '../test/support/av-sync.ts';
import { waitForStatus } from '../test/support/egress-waits.ts';
import { startLiveKitServer } from '../test/support/livekit-server.ts';
import { startPublishers } from '../test/support/publisher.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService } from '../test/support/service.ts';
import { fmt } from './stats.ts';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const SYNC_SECONDS = Number(process.env.BENCH_SYNC_SECONDS ?? 300);
const LIVEKIT_ROOM_COMPOSITE_RESERVATION = 4;

interface Usage {
  cpuSec: number;
  pssBytes: number;
}

/** CPU seconds so far and PSS now of every process tagged EGRESS_ID=<egressId>. */
async function egressUsage(egressId: string): Promise<Usage> {
  const usage: Usage = { cpuSec: 0, pssBytes: 0 };
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
    if (!environ.split('\0').includes(`EGRESS_ID=${egressId}`)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    usage.cpuSec += (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
    const rollup = await readFile(`/proc/${entry}/smaps_rollup`, 'utf8').catch(() => '');
    usage.pssBytes += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
  }
  return usage;
}

/** The recorder's own frame counts, from its 'recording finished' log line. */
function frameStats(logs: string, egressId: string): { frames: number; duplicated: number; dropped: number } | undefined {
  for (const line of logs.split('\n')) {
    if (!line.includes(egressId) || !line.includes('"recording finished"')) continue;
    const parsed = JSON.parse(line) as { stats?: { frames: number; duplicated: number; dropped: number } };
    if (parsed.stats) return parsed.stats;
  }
  return undefined;
}

export async function benchRoomCompositeCost(): Promise<string[]> {
  const lines = [`(f) Room composite on a real LiveKit server, 720p30 grid, ${SECONDS} s each, on ${availableParallelism()} cores`];
  let logs = '';
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, departureTimeoutSec: 1, emptyTimeoutSec: 5 });
  const service = await startService({ ws_url: livekit.url, logging: { level: 'info' } }, { logDestination: destination });
  const client = new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET);
  const common = { url: livekit.url, apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET };
  try {
    for (const participants of [2, 4]) {
      const room = `bench-${participants}`;
      const publishers = await startPublishers(participants, { ...common, room, video: { codec: 'vp8', width: 640, height: 360 } });
      const started = await client.startRoomCompositeEgress(
        room,
        { file: new EncodedFileOutput({ filepath: `bench/${room}.mp4` }) },
        { layout: 'grid', encodingOptions: EncodingOptionsPreset.H264_720P_30 },
      );
      await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000);
      await new Promise((r) => setTimeout(r, 3000)); // past the start-up
      const before = await egressUsage(started.egressId);
      let peakPss = before.pssBytes;
      const t0 = Date.now();
      while (Date.now() - t0 < SECONDS * 1000) {
        await new Promise((r) => setTimeout(r, 2000));
        peakPss = Math.max(peakPss, (await egressUsage(started.egressId)).pssBytes);
      }
      const after = await egressUsage(started.egressId);
      const cores = (after.cpuSec - before.cpuSec) / ((Date.now() - t0) / 1000);
      await client.stopEgress(started.egressId);
      await waitForStatus(client, started.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 60_000);
      await Promise.all(publishers.map((p) => p.leave()));
      const stats = frameStats(logs, started.egressId);
      const bad = stats ? ((stats.duplicated + stats.dropped) / Math.max(1, stats.frames)) * 100 : NaN;
      lines.push(
        `    ${participants} participants : ${fmt(cores)} cores, peak memory ${fmt(peakPss / 2 ** 20, 0)} MB PSS, duplicated+dropped ${fmt(bad, 2)} %` +
          `   (LiveKit reserves ${LIVEKIT_ROOM_COMPOSITE_RESERVATION} cores: ×${fmt(LIVEKIT_ROOM_COMPOSITE_RESERVATION / cores, 1)} what it uses)`,
      );
    }
    lines.push('    baseline: raw ffmpeg 720p30 (Xvfb + x11grab + x264) is part (c) of this run');

    // (g) A/V sync over a long recording: one participant, so every beep belongs to the flashes measured.
    const room = 'bench-sync';
    const [publisher] = await startPublishers(1, { ...common, room, video: { codec: 'vp8', width: 640, height: 360 } });
    const file = (name: string) => ({ file: new EncodedFileOutput({ filepath: `bench/${name}.mp4` }) });
    const egresses = await Promise.all([
      client.startRoomCompositeEgress(room, file('sync-room-composite'), { layout: 'grid', encodingOptions: EncodingOptionsPreset.H264_720P_30 }),
      client.startParticipantEgress(room, publisher!.identity, file('sync-participant'), { encodingOptions: EncodingOptionsPreset.H264_720P_30 }),
    ]);
    await Promise.all(egresses.map((e) => waitForStatus(client, e.egressId, [EgressStatus.EGRESS_ACTIVE], 60_000)));
    await new Promise((r) => setTimeout(r, SYNC_SECONDS * 1000));
    await publisher!.leave();
    const [roomComposite, participant] = await Promise.all(
      egresses.map((e) => waitForStatus(client, e.egressId, [EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED], 120_000)),
    );
    lines.push(`(g) A/V sync over ${SYNC_SECONDS} s, one participant recorded by both at once (beep − flash; positive = sound late)`);
    lines.push(await syncLine('room composite   ', roomComposite!.fileResults[0]!.location, { x: 0.1, y: 0.1, w: 0.8, h: 0.8 }));
    lines.push(await syncLine('participant (SDK)', participant!.fileResults[0]!.location));
  } finally {
    await service.stop();
    await dispose();
    await livekit.stop();
  }
  return lines;
}

/** Median, 95th percentile and first / last minute of the beep − flash offsets in a recording. */
async function syncLine(label: string, path: string, region?: { x: number; y: number; w: number; h: number }): Promise<string> {
  const sync = await measureAvSync(path, region);
  const abs = sync.offsets.map(Math.abs).sort((a, b) => a - b);
  const [first, last] = await Promise.all([
    measureAvSync(path, region, { untilSec: 60 }),
    measureAvSync(path, region, { fromSec: SYNC_SECONDS - 60 }),
  ]);
  return (
    `    ${label}: ${sync.offsets.length} pairs, median ${fmt(sync.medianOffsetSec * 1000, 0)} ms, 95th percentile |offset| ${fmt((abs[Math.floor(abs.length * 0.95)] ?? NaN) * 1000, 0)} ms,` +
    ` first minute ${fmt(first.medianOffsetSec * 1000, 0)} ms, last minute ${fmt(last.medianOffsetSec * 1000, 0)} ms`
  );
}
