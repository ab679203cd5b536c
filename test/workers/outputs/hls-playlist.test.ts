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
