/**
 * Redaction, on LiveKit's own cases (protocol `egress/redact_test.go`) plus the fields we add: every
 * secret of every request type is replaced in a copy, and the original is untouched.
 */
import {
  EncodedFileOutput,
  ImageOutput,
  RoomCompositeEgressRequest,
  S3Upload,
  SegmentedFileOutput,
  StartEgressRequest,
  StreamOutput,
  TrackEgressRequest,
  WebEgressRequest,
} from '@livekit/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED, redactIdentifier, redactRequest, redactStreamUrl, redactText } from '../../shared/redact.ts';
import { resolveStreamUrl } from '../../api/validate/stream-url.ts';

describe('redactStreamUrl (LiveKit TestRedactStreamOutput)', () => {
  const CASES: [string, string][] = [
    ['rtmps://foo.bar.com/app/secret_stream_key', 'rtmps://foo.bar.com/app/{sec...key}'],
    ['mux://8e0b1b9c-50a2-d893-ec0a-102056d112ae', 'mux://{8e0...2ae}'],
    ['twitch://live_12345678_abcdefghijklmnop', 'twitch://{liv...nop}'],
    ['srt://foo.bar.com:9999', 'srt://foo.bar.com:9999'],
    ['srt://foo.bar.com:9999?streamid=124939da-5244&passphrase=WnxknzJTUbwYl9SpdqAudX', 'srt://foo.bar.com:9999?streamid={...}&passphrase={...}'],
    ['wss://foo.bar.com/audio?callId=12145&token=7df13dab0d4437602d6f7056b97e72b9', 'wss://foo.bar.com/audio?callId={...}&token={...}'],
    ['rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop live=1', 'rtmp://a.rtmp.youtube.com/live2/{abc...nop} live=1'],
    ['rtmp://host/path/app/stream', 'rtmp://host/path/app/{st...am}'],
  ];
  for (const [url, expected] of CASES) test(url, () => assert.equal(redactStreamUrl(url), expected));

  test('URLs as validation rebuilds them (api/validate/stream-url.ts): no key, passphrase, stream id or token shows', () => {
    const canonical: [string, string, string][] = [
      ['RTMP://Live.Example.COM./app/key_abcdef123 live=1', 'rtmp://live.example.com/app/{key...123}', 'key_abcdef123'],
      ['rtmps://a.b:443/app/FB-1234567?s_bl=1&s_sc=9', 'rtmps://a.b:443/app/{FB-...c=9}', 'FB-1234567'],
      ['srt://h:9000?streamid=#!::r=live/k3y,m=publish&passphrase=hunter2hunter2', 'srt://h:9000?streamid={...}&passphrase={...}', 'hunter2'],
      ['wss://H.example.com?token=t0k3n', 'wss://h.example.com/?token={...}', 't0k3n'],
    ];
    for (const [given, shown, secret] of canonical) {
      const protocol = given.startsWith('srt') ? 'srt' : given.startsWith('ws') ? 'websocket' : 'rtmp';
      const { url, redacted } = resolveStreamUrl(given, protocol);
      assert.equal(redacted, shown);
      assert.equal(redactStreamUrl(url), shown);
      assert.ok(!redacted.includes(secret) && !redacted.includes('k3y'));
    }
  });
});

describe('redactText', () => {
  test('known secrets first, then patterns in order, then the cut', () => {
    const text = 'key AKIA1234 sig=abc&x=1 key AKIA1234';
    assert.equal(redactText(text, { secrets: ['AKIA1234'] }), `key ${REDACTED} sig=abc&x=1 key ${REDACTED}`);
    assert.equal(redactText(text, { patterns: [[/(sig=)[^&]+/g, `$1${REDACTED}`]] }), `key AKIA1234 sig=${REDACTED}&x=1 key AKIA1234`);
    assert.equal(redactText(text, { secrets: ['AKIA1234'], maxLength: 9 }), `key ${REDACTED}`.slice(0, 9));
    assert.equal(redactText(text, {}), text);
  });
});

describe('redactIdentifier', () => {
  const CASES: [string, string][] = [
    ['', '{...}'],
    ['ab', '{...}'],
    ['abc', '{a...c}'],
    ['abcdef', '{ab...ef}'],
    ['abcdefghi', '{abc...ghi}'],
  ];
  for (const [key, expected] of CASES) test(JSON.stringify(key), () => assert.equal(redactIdentifier(key), expected));
});

describe('redactRequest', () => {
  test('S3 upload in a v1 file output, the legacy oneof and the original untouched', () => {
    const s3 = {
      accessKey: 'ACCESS_KEY',
      secret: 'LONG_SECRET_STRING',
      sessionToken: 'SESSION_TOKEN',
      assumeRoleExternalId: 'EXTERNAL_ID',
      bucket: 'bkt',
      proxy: { url: 'http://proxy', username: 'u', password: 'pw' },
    };
    const file = new EncodedFileOutput({ filepath: 'a.mp4', output: { case: 's3', value: new S3Upload(s3) } });
    const request = new RoomCompositeEgressRequest({ roomName: 'r', output: { case: 'file', value: file }, fileOutputs: [file] });
    const before = request.clone();

    const redacted = redactRequest(request);
    assert.ok(redacted instanceof RoomCompositeEgressRequest);
    for (const out of [redacted.fileOutputs[0]!, redacted.output.value as EncodedFileOutput]) {
      assert.equal(out.output.case, 's3');
      assert.partialDeepStrictEqual(out.output.value, {
        accessKey: '{access_key}',
        secret: '{secret}',
        sessionToken: '{session_token}',
        assumeRoleExternalId: '{external_id}',
        bucket: 'bkt',
        proxy: { url: 'http://proxy', username: 'u', password: '{password}' },
      });
    }
    assert.ok(request.equals(before), 'the original must not change');
  });

  test('empty secrets stay empty', () => {
    const redacted = redactRequest(
      new WebEgressRequest({
        fileOutputs: [new EncodedFileOutput({ output: { case: 's3', value: new S3Upload({ bucket: 'b', accessKey: 'AK' }) } })],
      }),
    );
    assert.partialDeepStrictEqual(redacted.fileOutputs[0]!.output.value, { accessKey: '{access_key}', secret: '', sessionToken: '' });
  });

  test('GCP, Azure, AliOSS, stream keys and webhook keys (from JSON)', () => {
    const request = WebEgressRequest.fromJson({
      url: 'https://example.com',
      segment_outputs: [{ gcp: { credentials: '{"private_key":"x"}', bucket: 'g' } }],
      image_outputs: [
        { aliOSS: { access_key: 'AK', secret: 'S', bucket: 'a' } },
        { azure: { account_name: 'acct', account_key: 'KEY', container_name: 'c' } },
      ],
      stream_outputs: [{ urls: ['rtmp://h/app/secret_stream_key', 'srt://h:1?passphrase=p4ss'] }],
      webhooks: [{ url: 'https://hooks.example.com', signing_key: 'signing-secret' }],
    });
    const json = redactRequest(request).toJson() as Record<string, unknown>;
    assert.partialDeepStrictEqual(json, {
      segmentOutputs: [{ gcp: { credentials: '{credentials}', bucket: 'g' } }],
      imageOutputs: [
        { aliOSS: { accessKey: '{access_key}', secret: '{secret}', bucket: 'a' } },
        { azure: { accountName: '{account_name}', accountKey: '{account_key}', containerName: 'c' } },
      ],
      streamOutputs: [{ urls: ['rtmp://h/app/{sec...key}', 'srt://h:1?passphrase={...}'] }],
      webhooks: [{ url: 'https://hooks.example.com', signingKey: '{signing_key}' }],
    });
    assert.doesNotMatch(JSON.stringify(json), /private_key|"AK"|KEY"|secret_stream_key|p4ss|signing-secret/);
  });

  test('track egress: direct file upload and websocket url', () => {
    const file = redactRequest(
      TrackEgressRequest.fromJson({ room_name: 'r', track_id: 'T', file: { azure: { account_name: 'acct', account_key: 'KEY' } } }),
    );
    assert.partialDeepStrictEqual(file.toJson(), { file: { azure: { accountName: '{account_name}', accountKey: '{account_key}' } } });
    const ws = redactRequest(
      TrackEgressRequest.fromJson({ room_name: 'r', track_id: 'T', websocket_url: 'wss://foo.bar.com/audio?callId=12145&token=7df1' }),
    );
    assert.deepEqual(ws.output, { case: 'websocketUrl', value: 'wss://foo.bar.com/audio?callId={...}&token={...}' });
  });

  test('v2 StartEgress: request storage, output storage, stream urls', () => {
    const request = StartEgressRequest.fromJson({
      room_name: 'r',
      web: { url: 'https://example.com' },
      storage: { s3: { access_key: 'AK', secret: 'S', bucket: 'b' } },
      outputs: [
        { file: { filepath: 'x' }, storage: { gcp: { credentials: 'C', bucket: 'g' } } },
        { stream: { urls: ['mux://8e0b1b9c-50a2-d893-ec0a-102056d112ae'] } },
        { segments: { s3: { secret: 'S2', bucket: 'b2' } } },
      ],
    });
    assert.partialDeepStrictEqual(redactRequest(request).toJson(), {
      storage: { s3: { accessKey: '{access_key}', secret: '{secret}', bucket: 'b' } },
      outputs: [
        { file: { filepath: 'x' }, storage: { gcp: { credentials: '{credentials}', bucket: 'g' } } },
        { stream: { urls: ['mux://{8e0...2ae}'] } },
        { segments: { s3: { secret: '{secret}', bucket: 'b2' } } },
      ],
    });
  });

  test('messages without secrets come back equal', () => {
    const request = new WebEgressRequest({
      url: 'https://x',
      segmentOutputs: [new SegmentedFileOutput({ filenamePrefix: 'p' })],
      imageOutputs: [new ImageOutput()],
      streamOutputs: [new StreamOutput({ urls: ['srt://h:1'] })],
    });
    assert.ok(redactRequest(request).equals(request));
  });
});
