/**
 * The pieces of track passthrough that need no server: the jitter buffer (reordering, framing, loss,
 * wrap-around), the offer restricted to the track's codec, the Opus helpers, and the muxer writing a file
 * ffprobe reads back as it was given.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { RtpHeader, RtpPacket } from 'werift';
import { describeKeyframe, opusFiller, opusHead, opusPacketSamples } from '../../../workers/track/codecs.ts';
import { ContainerWriter } from '../../../workers/track/container-writer.ts';
import { JitterBuffer, Unwrapper, type RtpFrame } from '../../../workers/track/jitter-buffer.ts';
import { offerForTrack } from '../../../workers/track/track-subscriber.ts';

const run = promisify(execFile);

const rtp = (sequenceNumber: number, timestamp: number, marker: boolean, byte = 0) =>
  new RtpPacket(new RtpHeader({ sequenceNumber, timestamp, marker, payloadType: 96, ssrc: 1 }), Buffer.from([byte]));

function collect(kind: 'audio' | 'video') {
  const frames: RtpFrame[] = [];
  const losses: number[] = [];
  const buffer = new JitterBuffer({ kind, latencyMs: 100, onFrame: (f) => frames.push(f), onLoss: (n) => losses.push(n) });
  return { buffer, frames, losses };
}

test('Track/Unwrapper: sequence numbers and timestamps keep counting across the wrap', () => {
  const seq = new Unwrapper(16);
  assert.deepEqual(
    [65534, 65535, 0, 1, 65535, 2].map((v) => seq.unwrap(v)),
    [65534, 65535, 65536, 65537, 65535, 65538],
  );
  const ts = new Unwrapper(32);
  assert.equal(ts.unwrap(2 ** 32 - 3000), 2 ** 32 - 3000);
  assert.equal(ts.unwrap(0), 2 ** 32);
});

test('Track/JitterBuffer: reordered packets make whole frames, in order, across the sequence wrap', () => {
  const { buffer, frames, losses } = collect('video');
  // Frame A: 65534, 65535 (marker); frame B: 0, 1, 2 (marker); frame C: 3 (marker). Arrival out of order.
  for (const p of [rtp(65534, 1000, false), rtp(0, 4000, false), rtp(65535, 1000, true), rtp(2, 4000, true), rtp(3, 7000, true), rtp(1, 4000, false)])
    buffer.push(p, 0);
  assert.deepEqual(
    frames.map((f) => [f.timestamp, f.packets.map((p) => p.header.sequenceNumber)]),
    [
      [1000, [65534, 65535]],
      [4000, [0, 1, 2]],
      [7000, [3]],
    ],
  );
  assert.deepEqual(losses, []);
});

test('Track/JitterBuffer: a hole not filled within the latency is given up, the damaged frame dropped', () => {
  const { buffer, frames, losses } = collect('video');
  buffer.push(rtp(10, 0, true), 0);
  // 11 (first packet of frame 3000) lost; 12 is its marker; 13 is a whole frame.
  buffer.push(rtp(12, 3000, true), 10);
  buffer.push(rtp(13, 6000, true), 20);
  assert.equal(frames.length, 1);
  buffer.tick(50);
  assert.equal(frames.length, 1, 'still waiting for the retransmission');
  buffer.tick(200);
  assert.deepEqual(losses, [1]);
  assert.deepEqual(
    frames.map((f) => f.timestamp),
    [0, 6000],
  );
  // A retransmission arriving too late is ignored.
  buffer.push(rtp(11, 3000, false), 210);
  assert.equal(frames.length, 2);
});

test('Track/JitterBuffer: audio packets are frames of their own', () => {
  const { buffer, frames } = collect('audio');
  for (const p of [rtp(1, 960, false), rtp(0, 0, false), rtp(2, 1920, false)]) buffer.push(p, 0);
  assert.deepEqual(
    frames.map((f) => f.timestamp),
    [960, 1920],
  );
});

const OFFER = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=mid:0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 108 109',
  'a=mid:1',
  'a=rtpmap:96 VP8/90000',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f',
  'a=rtpmap:103 rtx/90000',
  'a=fmtp:103 apt=102',
  'a=rtpmap:108 H264/90000',
  'a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtcp-fb:108 nack pli',
  'a=rtpmap:109 rtx/90000',
  'a=fmtp:109 apt=108',
  '',
].join('\r\n');

test('Track/Offer: the m-line of the track keeps only its codec (H.264 packetization-mode 1) and its RTX', () => {
  const h264 = offerForTrack(OFFER, '1', 'video/H264');
  assert.match(h264, /m=video 9 UDP\/TLS\/RTP\/SAVPF 108 109\r\n/);
  assert.doesNotMatch(h264, /rtpmap:(96|97|102|103) /);
  assert.match(h264, /a=rtcp-fb:108 nack pli/);
  assert.match(h264, /m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r\na=mid:0/);
  assert.match(offerForTrack(OFFER, '1', 'video/VP8'), /m=video 9 UDP\/TLS\/RTP\/SAVPF 96 97\r\n/);
  assert.equal(offerForTrack(OFFER, undefined, 'video/VP8'), OFFER, 'no m-line of ours yet: untouched');
});

test('Track/Opus: packet durations from the TOC, concealment fillers, OpusHead', () => {
  assert.equal(opusPacketSamples(Uint8Array.of(0xfc, 1, 2)), 960); // CELT FB 20 ms, stereo, one frame
  assert.equal(opusPacketSamples(Uint8Array.of(0x78)), 960); // SILK WB 20 ms
  assert.equal(opusPacketSamples(Uint8Array.of(0xfd)), 1920); // two 20 ms frames
  assert.deepEqual(opusFiller(Uint8Array.of(0xfd, 9, 9)), Uint8Array.of(0xfc));
  const head = opusHead(2);
  assert.equal(Buffer.from(head.subarray(0, 8)).toString(), 'OpusHead');
  assert.equal(head.length, 19);
  assert.equal(head[9], 2);
});

test('Track/Keyframe: size and codec string from an H.264 SPS and a VP8 key frame header', () => {
  // SPS + PPS of x264 streams, Annex-B: 640x360 Constrained Baseline 3.0 (cropped height), 1280x720 High 3.1.
  const baseline = describeKeyframe('avc', Buffer.from('000000016742c01ed900a02ff970110000030001000003003c0f162e480000000168cb83cb20', 'hex'));
  assert.equal(baseline.codecString, 'avc1.42c01e');
  assert.deepEqual([baseline.width, baseline.height], [640, 360]);
  const high = describeKeyframe('avc', Buffer.from('000000016764001facd9405005bb0110000003001000000303c0f183196000000000168ebe3cb22c0', 'hex'));
  assert.equal(high.codecString, 'avc1.64001f');
  assert.deepEqual([high.width, high.height], [1280, 720]);
  const vp8 = describeKeyframe('vp8', Uint8Array.of(0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01));
  assert.deepEqual([vp8.width, vp8.height], [640, 360]);
});

test('Track/ContainerWriter: Opus packets with a filled gap → an Ogg of the right length', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'track-writer-'));
  try {
    const path = join(dir, 'a.ogg');
    const writer = new ContainerWriter(path, 'opus', { channels: 2 });
    // 1 s of 20 ms CELT silence frames (TOC 0xfc + a 3-byte frame), then 0.5 s of fillers, then 0.5 s more.
    const packet = Uint8Array.of(0xfc, 0xff, 0xfe, 0x00);
    for (let i = 0; i < 100; i++) writer.write({ data: i >= 50 && i < 75 ? opusFiller(packet) : packet, keyframe: true, timestampSec: i * 0.02 });
    await writer.finalize();
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,channels', '-of', 'json', path]);
    const info = JSON.parse(stdout) as { format: { duration: string }; streams: { codec_name: string; channels: number }[] };
    assert.equal(info.streams[0]!.codec_name, 'opus');
    assert.ok(Math.abs(Number(info.format.duration) - 2) < 0.05, info.format.duration);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
