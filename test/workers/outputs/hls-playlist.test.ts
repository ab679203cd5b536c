import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventPlaylist, livePlaylist, type PlaylistSegment } from '../../../workers/outputs/hls-playlist.ts';

const t0 = Date.UTC(2026, 10, 24, 8, 0, 0);
const segments: PlaylistSegment[] = Array.from({ length: 7 }, (_, i) => ({
  filename: `p_${String(i).padStart(5, '0')}.ts`,
  duration: i === 6 ? 2.5 : 4,
  startedAtMs: t0 + i * 4000,
}));

test('HLS/EventPlaylist: every segment with its date-time, ENDLIST at the end', () => {
  const open = eventPlaylist(4, segments, false);
  assert.match(
    open,
    /^#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-ALLOW-CACHE:NO\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n/,
  );
  assert.equal(open.match(/#EXTINF/g)?.length, 7);
  assert.ok(open.includes('#EXT-X-PROGRAM-DATE-TIME:2026-11-24T08:00:04.000Z\n#EXTINF:4.000,\np_00001.ts'));
  assert.ok(!open.includes('ENDLIST'));
  assert.ok(eventPlaylist(4, segments, true).endsWith('p_00006.ts\n#EXT-X-ENDLIST\n'));
});

test('HLS/LivePlaylist: a window of 5, media sequence advancing', () => {
  const live = livePlaylist(4, segments, false);
  assert.ok(live.includes('#EXT-X-MEDIA-SEQUENCE:2\n'));
  assert.ok(!live.includes('PLAYLIST-TYPE'));
  assert.deepEqual(live.match(/p_\d+\.ts/g), ['p_00002.ts', 'p_00003.ts', 'p_00004.ts', 'p_00005.ts', 'p_00006.ts']);
  assert.ok(livePlaylist(4, segments.slice(0, 2), false).includes('#EXT-X-MEDIA-SEQUENCE:0\n'));
});

test('HLS/TargetDuration grows when a segment ran over', () => {
  const long = [...segments, { filename: 'p_00007.ts', duration: 5.6, startedAtMs: t0 + 28_000 }];
  assert.ok(eventPlaylist(4, long, false).includes('#EXT-X-TARGETDURATION:6\n'));
});

/** Segments 0–3 from part 1, then part 2 (taken over after a gap) from segment 4 on. */
const takenOver: PlaylistSegment[] = Array.from({ length: 9 }, (_, i) => ({
  filename: `p_${String(i).padStart(5, '0')}.ts`,
  duration: 4,
  startedAtMs: t0 + i * 4000 + (i >= 4 ? 9000 : 0),
  ...(i === 4 ? { discontinuity: true } : {}),
}));

test('HLS/Takeover: the event playlist marks the first segment of a later part, once, numbers going on', () => {
  const text = eventPlaylist(4, takenOver, true);
  assert.equal(text.match(/#EXT-X-DISCONTINUITY\n/g)?.length, 1);
  assert.ok(text.includes('p_00003.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T08:00:25.000Z\n#EXTINF:4.000,\np_00004.ts\n'));
  assert.deepEqual(
    text.match(/p_\d+\.ts/g),
    takenOver.map((s) => s.filename),
  );
  assert.ok(!text.includes('DISCONTINUITY-SEQUENCE'));
  assert.ok(!eventPlaylist(4, segments, true).includes('DISCONTINUITY'), 'none without a takeover');
});

test('HLS/Takeover: the live window keeps the tag while the segment is in it, then counts it in DISCONTINUITY-SEQUENCE', () => {
  // Window 2–6: the discontinuity (before 4) is inside it.
  const inside = livePlaylist(4, takenOver.slice(0, 7), false);
  assert.ok(inside.includes('#EXT-X-MEDIA-SEQUENCE:2\n'));
  assert.ok(!inside.includes('DISCONTINUITY-SEQUENCE'));
  assert.ok(inside.includes('p_00003.ts\n#EXT-X-DISCONTINUITY\n'));
  // Window 4–8: still the window's first segment, tag kept, nothing slid out yet.
  const atStart = livePlaylist(4, takenOver, false);
  assert.ok(atStart.includes('#EXT-X-MEDIA-SEQUENCE:4\n'));
  assert.ok(!atStart.includes('DISCONTINUITY-SEQUENCE'));
  assert.ok(/#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME[^\n]*\n#EXTINF:4.000,\np_00004.ts/.test(atStart));
  // One more segment: the tagged one slid out, the sequence says so, in the header.
  const past = livePlaylist(4, [...takenOver, { filename: 'p_00009.ts', duration: 4, startedAtMs: t0 + 45_000 }], false);
  assert.ok(past.includes('#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n'));
  assert.equal(past.match(/#EXT-X-DISCONTINUITY\n/g), null);
});
