/**
 * The same class as the `iss` bypass, away from authentication: tables looked up by a string someone else
 * chose (a publisher's MIME type) must not find Object.prototype members. The HTTP-facing ones (RPC names,
 * template files, API keys) are in auth.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileTypeOfTrackCodec } from '../../shared/encoding.ts';
import { codecInfo } from '../../workers/track/codecs.ts';

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'tostring',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  'prototype',
];

test('a track MIME type that names an Object.prototype member has no file type and no passthrough codec', () => {
  for (const mimeType of PROTOTYPE_NAMES) {
    assert.equal(fileTypeOfTrackCodec(mimeType), undefined, mimeType);
    assert.equal(codecInfo(mimeType, 90_000), undefined, mimeType);
  }
  // The real ones still resolve, case-insensitively.
  assert.equal(fileTypeOfTrackCodec('video/H264'), 'mp4');
  assert.deepEqual(codecInfo('audio/OPUS', 48_000), { codec: 'opus', kind: 'audio', fileType: 'ogg', clockRate: 48_000 });
  assert.equal(codecInfo('audio/PCMU', 8000), undefined, 'G.711 is transcoded, not passed through');
});
