/**
 * Output naming: variables, generated names, extensions, LiveKit's segment naming table
 * (egress `pkg/config/config_test.go` TestSegmentNaming), and paths that try to leave their directory.
 */
// {time} is local time: pin a zone with no DST and a non-zero offset, before any Date is made.
process.env.TZ = 'Asia/Kolkata';

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PathPolicy, SourcePlan } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import {
  cleanPath,
  expandTemplate,
  fileIdentifier,
  formatLocalTime,
  formatUtc,
  localPathOf,
  namingVarsOf,
  resolveImagePrefix,
  resolveOutputPath,
  resolveSegmentNames,
  type NamingVars,
} from '../../shared/naming.ts';

/** 2026-11-24 03:02:00.007 UTC = 08:32:00 in Kolkata (UTC+5:30). */
const NOW = Date.UTC(2026, 10, 24, 3, 2, 0, 7);
const TIME = '2026-11-24T083200';
const vars: NamingVars = {
  identifier: 'my-room',
  time: NOW,
  roomName: 'my-room',
  roomId: 'RM_123',
  publisherIdentity: 'alice',
  trackId: 'TR_1',
  trackType: 'audio',
  trackSource: 'microphone',
};

function assertFieldError(fn: () => unknown, field: string): void {
  assert.throws(
    fn,
    (err) =>
      err instanceof EgressError &&
      err.code === 'EGR_ERR_INVALID_ARGUMENT' &&
      err.meta.field === field &&
      err.message.startsWith(`request has missing or invalid field: ${field}`),
  );
}

describe('time formats', () => {
  test('{time} is local, Go layout 2006-01-02T150405', () => assert.equal(formatLocalTime(NOW), TIME));
  test('{utc} is UTC with milliseconds', () => assert.equal(formatUtc(NOW), '20261124030200007'));
});

describe('expandTemplate', () => {
  const CASES: [string, string, NamingVars?][] = [
    ['{room_name}/{room_id}/{time}', `my-room/RM_123/${TIME}`],
    ['{utc}-{publisher_identity}', '20261124030200007-alice'],
    ['{track_id}_{track_type}_{track_source}', 'TR_1_audio_microphone'],
    ['{room_name}-{room_name}', 'my-room-my-room'],
    // Unknown and not-yet-known variables stay as written, as in LiveKit.
    ['{retry}/{room_id}', '{retry}/{room_id}', { identifier: 'web', time: NOW }],
  ];
  for (const [template, expected, v] of CASES) test(template, () => assert.equal(expandTemplate(template, v ?? vars), expected));
});

describe('resolveOutputPath', () => {
  const CASES: [name: string, template: string, ext: string, policy: PathPolicy, expected: string][] = [
    ['Empty/Generated', '', '.mp4', 'confined', `my-room-${TIME}.mp4`],
    ['Dir/GeneratedInside', 'recordings/{room_name}/', '.ogg', 'confined', `recordings/my-room/my-room-${TIME}.ogg`],
    ['Ext/Kept', 'a/b.mp4', '.mp4', 'confined', 'a/b.mp4'],
    ['Ext/Appended', 'a/b', '.mp4', 'confined', 'a/b.mp4'],
    ['Ext/WrongKnownReplaced', 'a/b.ogg', '.mp4', 'confined', 'a/b.mp4'],
    ['Ext/UnknownKept', 'a/b.final', '.mp4', 'confined', 'a/b.final.mp4'],
    ['Ext/DotInDirOnly', 'v1.2/b', '.mp4', 'confined', 'v1.2/b.mp4'],
    ['Ext/NoneForTrack', '{track_id}', '', 'confined', 'TR_1'],
    ['Normalised/InnerDotDot', 'a/../b/./c.mp4', '.mp4', 'confined', 'b/c.mp4'],
    ['Normalised/DotSlash', './', '.mp4', 'confined', `my-room-${TIME}.mp4`],
    ['Lenient/LeadingSlash', '/recordings/x.mp4', '.mp4', 'lenient', 'recordings/x.mp4'],
    ['Lenient/LeadingDotDot', '../../x', '.mp4', 'lenient', 'x.mp4'],
    ['Lenient/OnlyDotDot', '../', '.mp4', 'lenient', `my-room-${TIME}.mp4`],
  ];
  for (const [name, template, ext, policy, expected] of CASES)
    test(name, () => assert.equal(resolveOutputPath(template, vars, ext, policy), expected));

  const ESCAPES: [name: string, template: string, v?: Partial<NamingVars>][] = [
    ['Escape/DotDot', '../x.mp4'],
    ['Escape/DotDotAfterNormalising', 'a/../../x.mp4'],
    ['Escape/Absolute', '/etc/x.mp4'],
    ['Escape/ThroughVariable', '{room_name}/x.mp4', { roomName: '../..' }],
    ['Escape/ThroughIdentifier', 'dir/../', { identifier: '../../etc' }],
    ['Escape/NulByte', 'a\0b.mp4'],
  ];
  for (const [name, template, v] of ESCAPES) {
    test(name, () => assertFieldError(() => resolveOutputPath(template, { ...vars, ...v }, '.mp4', 'confined'), 'filepath'));
  }
});

describe('cleanPath and localPathOf', () => {
  test('keeps a trailing slash', () => assert.equal(cleanPath('a//b/', 'confined', 'filepath'), 'a/b/'));
  test('empty stays empty', () => assert.equal(cleanPath('', 'confined', 'filepath'), ''));
  test('localPathOf joins inside the base', () => assert.equal(localPathOf('/srv/rec', 'a/b.mp4'), '/srv/rec/a/b.mp4'));
  test('localPathOf refuses an escaping key', () => assertFieldError(() => localPathOf('/srv/rec', '../rec2/x.mp4'), 'filepath'));
});

describe('resolveSegmentNames (LiveKit TestSegmentNaming)', () => {
  const CASES: [prefix: string, playlist: string, live: string, dir: string, playlistFile: string, liveFile: string, segmentPrefix: string][] = [
    ['', 'playlist', '', '', 'playlist.m3u8', '', 'playlist'],
    ['', 'conf_test/playlist', 'conf_test/live_playlist', 'conf_test/', 'playlist.m3u8', 'live_playlist.m3u8', 'playlist'],
    ['filename', '', 'live_playlist2.m3u8', '', 'filename.m3u8', 'live_playlist2.m3u8', 'filename'],
    ['filename', 'playlist', '', '', 'playlist.m3u8', '', 'filename'],
    ['filename', 'conf_test/', '', 'conf_test/', 'filename.m3u8', '', 'filename'],
    ['filename', 'conf_test/playlist', '', 'conf_test/', 'playlist.m3u8', '', 'filename'],
    ['conf_test/', 'playlist', '', 'conf_test/', 'playlist.m3u8', '', 'playlist'],
    ['conf_test/filename', 'playlist', '', 'conf_test/', 'playlist.m3u8', '', 'filename'],
    ['conf_test/filename', 'conf_test/playlist', '', 'conf_test/', 'playlist.m3u8', '', 'filename'],
    ['conf_test_2/filename', 'conf_test/playlist', '', 'conf_test/', 'playlist.m3u8', '', 'conf_test_2/filename'],
  ];
  for (const [prefix, playlist, live, dir, playlistFile, liveFile, segmentPrefix] of CASES) {
    test(`prefix=${prefix || '∅'} playlist=${playlist || '∅'} live=${live || '∅'}`, () => {
      assert.deepEqual(resolveSegmentNames({ filenamePrefix: prefix, playlistName: playlist, livePlaylistName: live }, vars, 'confined'), {
        dir,
        playlist: playlistFile,
        livePlaylist: liveFile,
        segmentPrefix,
      });
    });
  }
  test('all empty → generated', () =>
    assert.deepEqual(resolveSegmentNames({ filenamePrefix: '', playlistName: '', livePlaylistName: '' }, vars, 'confined'), {
      dir: '',
      playlist: `my-room-${TIME}.m3u8`,
      livePlaylist: '',
      segmentPrefix: `my-room-${TIME}`,
    }));
  test('live playlist in another directory', () =>
    assertFieldError(
      () => resolveSegmentNames({ filenamePrefix: '', playlistName: 'a/p', livePlaylistName: 'b/l' }, vars, 'confined'),
      'live_playlist_name',
    ));
  test('live playlist equal to playlist', () =>
    assertFieldError(
      () => resolveSegmentNames({ filenamePrefix: '', playlistName: 'p.m3u8', livePlaylistName: 'p' }, vars, 'confined'),
      'live_playlist_name',
    ));
  test('escaping playlist', () =>
    assertFieldError(
      () => resolveSegmentNames({ filenamePrefix: '', playlistName: '/var/p', livePlaylistName: '' }, vars, 'confined'),
      'playlist_name',
    ));
});

describe('resolveImagePrefix', () => {
  test('dir and prefix', () => assert.deepEqual(resolveImagePrefix('thumbs/{room_name}', vars, 'confined'), { dir: 'thumbs/', prefix: 'my-room' }));
  test('generated prefix', () => assert.deepEqual(resolveImagePrefix('thumbs/', vars, 'confined'), { dir: 'thumbs/', prefix: `my-room-${TIME}` }));
  test('escaping prefix', () => assertFieldError(() => resolveImagePrefix('../thumbs/x', vars, 'confined'), 'filename_prefix'));
});

describe('identifiers', () => {
  const SOURCES: [SourcePlan, string][] = [
    [{ kind: 'web', url: 'https://x', awaitStartSignal: false }, 'web'],
    [{ kind: 'template', layout: 'grid', baseUrl: '' }, 'my-room'],
    [{ kind: 'participant', identity: 'alice', screenShare: false }, 'alice'],
    [{ kind: 'track_composite', audioTrackId: 'TR_A', videoTrackId: '' }, 'my-room'],
    [{ kind: 'track', trackId: 'TR_1' }, 'TR_1'],
  ];
  for (const [source, expected] of SOURCES) test(source.kind, () => assert.equal(fileIdentifier(source, 'my-room'), expected));

  test('namingVarsOf a participant plan', () =>
    assert.deepEqual(namingVarsOf({ source: SOURCES[2]![0], roomName: 'my-room', requestedAt: NOW }, { roomId: 'RM_1' }), {
      identifier: 'alice',
      time: NOW,
      roomName: 'my-room',
      publisherIdentity: 'alice',
      roomId: 'RM_1',
    }));
  test('namingVarsOf a web plan has no room', () =>
    assert.deepEqual(namingVarsOf({ source: SOURCES[0]![0], roomName: '', requestedAt: NOW }), { identifier: 'web', time: NOW }));
});
