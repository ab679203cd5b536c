/**
 * Request validation, acceptances, table-driven: accepted requests resolve to the expected plan (job data:
 * JSON-safe, no secret), their secrets sealed apart and the request case redacted.
 */
import {
  AudioCodec,
  AudioConfig,
  AudioRoute,
  AzureBlobUpload,
  EncodedFileType,
  EncodingOptionsPreset,
  FileOutput,
  ImageOutput,
  MediaSource,
  Output,
  ParticipantEgressRequest,
  RoomCompositeEgressRequest,
  S3Upload,
  SegmentedFileOutput,
  StartEgressRequest,
  StreamOutput,
  StreamProtocol,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  VideoCodec,
  WebEgressRequest,
} from '@livekit/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateRequest, type AnyStartRequest } from '../../api/validate/index.ts';
import type { EgressPlan } from '../../shared/egress-plan.ts';
import type { EgressError } from '../../shared/errors.ts';
import { advanced, ctx, file, mp4, preset, room, rtmp, v2, web } from '../support/start-requests.ts';

interface Acceptance {
  name: string;
  request: () => AnyStartRequest;
  /** Checked with assert.partialDeepStrictEqual. */
  plan: Record<string, unknown>;
  absent?: (keyof EgressPlan)[];
}

const PRESET_CASES: [EncodingOptionsPreset, number, number, number, number][] = [
  [EncodingOptionsPreset.H264_720P_30, 1280, 720, 30, 3000],
  [EncodingOptionsPreset.H264_720P_60, 1280, 720, 60, 4500],
  [EncodingOptionsPreset.H264_1080P_30, 1920, 1080, 30, 4500],
  [EncodingOptionsPreset.H264_1080P_60, 1920, 1080, 60, 6000],
  [EncodingOptionsPreset.PORTRAIT_H264_720P_30, 720, 1280, 30, 3000],
  [EncodingOptionsPreset.PORTRAIT_H264_720P_60, 720, 1280, 60, 4500],
  [EncodingOptionsPreset.PORTRAIT_H264_1080P_30, 1080, 1920, 30, 4500],
  [EncodingOptionsPreset.PORTRAIT_H264_1080P_60, 1080, 1920, 60, 6000],
];

const DEFAULT_AUDIO = { audioBitrateKbps: 128, depth: 24, videoProfile: 'main' };

const ACCEPTED: Acceptance[] = [
  {
    name: 'Web/Defaults',
    request: () => web(),
    plan: {
      egressId: 'EG_test',
      requestKind: 'web',
      roomName: '',
      source: { kind: 'web', url: 'https://example.com', awaitStartSignal: false },
      audio: true,
      video: true,
      encoding: {
        width: 1280,
        height: 720,
        depth: 24,
        framerate: 30,
        videoProfile: 'main',
        videoBitrateKbps: 3000,
        audioCodec: 'aac',
        audioBitrateKbps: 128,
        audioFrequency: 44100,
        keyFrameIntervalSec: 0,
      },
      file: { fileType: 'mp4', filepath: 'rec.mp4', disableManifest: false, storage: { kind: 'service' } },
      images: [],
      requestedAt: ctx.now,
    },
    absent: ['stream', 'segments'],
  },
  {
    name: 'Web/SdkDoubleSend',
    request: () => {
      const f = mp4('out/{time}.mp4');
      return web({ output: { case: 'file', value: f }, fileOutputs: [f] });
    },
    plan: { file: { fileType: 'mp4', filepath: 'out/{time}.mp4' } },
  },
  {
    name: 'Web/SdkDoubleSendFromJson',
    request: () =>
      WebEgressRequest.fromJson({
        url: 'https://example.com/page',
        await_start_signal: true,
        file: { file_type: 'MP4', filepath: 'x.mp4' },
        file_outputs: [{ file_type: 'MP4', filepath: 'x.mp4' }],
        preset: 'H264_1080P_30',
      }),
    plan: {
      source: { kind: 'web', awaitStartSignal: true },
      encoding: { width: 1920, height: 1080, videoBitrateKbps: 4500 },
      file: { fileType: 'mp4', filepath: 'x.mp4' },
    },
  },
  {
    name: 'Web/LegacyStreamOnly',
    request: () => WebEgressRequest.fromJson({ url: 'https://example.com', stream: { urls: ['rtmps://live.example.com:443/app/my_stream_key'] } }),
    plan: {
      stream: { protocol: 'rtmp', redactedUrls: ['rtmps://live.example.com:443/app/{my_...key}'] },
      encoding: { keyFrameIntervalSec: 4, audioCodec: 'aac' },
    },
    absent: ['file'],
  },
  ...PRESET_CASES.map(([value, width, height, framerate, videoBitrateKbps]): Acceptance => ({
    name: `Encoding/Preset/${EncodingOptionsPreset[value]}`,
    request: () => room({ options: preset(value) }),
    plan: { encoding: { width, height, framerate, videoBitrateKbps, ...DEFAULT_AUDIO, audioFrequency: 44100 } },
  })),
  {
    name: 'Encoding/AdvancedOnlyNonZeroOverrides',
    request: () => room({ options: advanced({ width: 640, audioBitrate: 96, keyFrameInterval: 2 }) }),
    plan: { encoding: { width: 640, height: 720, framerate: 30, videoBitrateKbps: 3000, audioBitrateKbps: 96, keyFrameIntervalSec: 2, depth: 24 } },
  },
  {
    name: 'Encoding/VP8IsH264Main',
    request: () => room({ options: advanced({ videoCodec: VideoCodec.VP8 }) }),
    plan: { encoding: { videoProfile: 'main' } },
  },
  {
    name: 'Encoding/H264High',
    request: () => room({ options: advanced({ videoCodec: VideoCodec.H264_HIGH, depth: 16 }) }),
    plan: { encoding: { videoProfile: 'high', depth: 16 } },
  },
  {
    name: 'Encoding/OpusInMP4',
    request: () => room({ options: advanced({ audioCodec: AudioCodec.OPUS, audioFrequency: 22050 }) }),
    plan: { encoding: { audioCodec: 'opus', audioFrequency: 48000 }, file: { fileType: 'mp4' } },
  },
  {
    name: 'Bounds/ImageOddSidesAndLimits',
    request: () =>
      room({
        imageOutputs: [new ImageOutput({ width: 321, height: 181, captureInterval: 3600 })],
        options: advanced({ width: 3840, height: 2160, framerate: 60 }),
      }),
    plan: { encoding: { width: 3840, height: 2160, framerate: 60 }, images: [{ width: 321, height: 181, captureIntervalSec: 3600 }] },
  },
  {
    name: 'FileType/AudioOnlyDefaultIsOGG',
    request: () => room({ audioOnly: true, fileOutputs: [file('audio/')] }),
    plan: { audio: true, video: false, file: { fileType: 'ogg', filepath: 'audio/' }, encoding: { audioCodec: 'opus', audioFrequency: 48000 } },
  },
  {
    name: 'FileType/AudioOnlyAACIsMP4',
    request: () => room({ audioOnly: true, fileOutputs: [file()], options: advanced({ audioCodec: AudioCodec.AAC }) }),
    plan: { file: { fileType: 'mp4' }, encoding: { audioCodec: 'aac' } },
  },
  {
    name: 'FileType/AudioOnlyMP3CodecIsMP3',
    request: () => room({ audioOnly: true, fileOutputs: [file()], options: advanced({ audioCodec: AudioCodec.AC_MP3 }) }),
    plan: { file: { fileType: 'mp3' }, encoding: { audioCodec: 'mp3', audioFrequency: 44100 } },
  },
  {
    name: 'FileType/AudioOnlyWithRTMPIsMP4',
    request: () => room({ audioOnly: true, fileOutputs: [file()], streamOutputs: [rtmp()] }),
    plan: { file: { fileType: 'mp4' }, encoding: { audioCodec: 'aac', keyFrameIntervalSec: 4 } },
  },
  {
    name: 'FileType/VideoOnlyIsMP4',
    request: () => room({ videoOnly: true, fileOutputs: [file()] }),
    plan: { audio: false, video: true, file: { fileType: 'mp4' } },
  },
  {
    name: 'FileType/MP3AudioOnly',
    request: () => room({ audioOnly: true, fileOutputs: [file('a', EncodedFileType.MP3)] }),
    plan: { file: { fileType: 'mp3' }, encoding: { audioCodec: 'mp3' } },
  },
  {
    name: 'RoomComposite/Template',
    request: () => room({ layout: 'speaker-dark', customBaseUrl: 'https://templates.example.com/', audioMixing: 1 }),
    plan: {
      requestKind: 'room_composite',
      roomName: 'my-room',
      source: { kind: 'template', layout: 'speaker-dark', baseUrl: 'https://templates.example.com/', audioMixing: 'dual_channel_agent' },
    },
  },
  {
    name: 'Stream/Mux',
    request: () => room({ fileOutputs: [], streamOutputs: [rtmp('mux://8e0b1b9c-50a2-d893-ec0a-102056d112ae')] }),
    plan: { stream: { protocol: 'rtmp', redactedUrls: ['rtmps://global-live.mux.com:443/app/{8e0...2ae}'] } },
  },
  {
    name: 'Stream/SRT',
    request: () => room({ fileOutputs: [], streamOutputs: [rtmp('srt://srt.example.com:9000?streamid=abc&passphrase=hunter22-long')] }),
    plan: {
      stream: { protocol: 'srt', redactedUrls: ['srt://srt.example.com:9000?streamid={...}&passphrase={...}'] },
      encoding: { audioCodec: 'aac' },
    },
  },
  {
    name: 'Stream/EmptyNextToFile',
    request: () => room({ streamOutputs: [new StreamOutput({ protocol: StreamProtocol.RTMP })] }),
    plan: { stream: { protocol: 'rtmp', redactedUrls: [] }, file: { fileType: 'mp4' } },
  },
  {
    name: 'Segments/Defaults',
    request: () => room({ fileOutputs: [], segmentOutputs: [new SegmentedFileOutput({ filenamePrefix: 'hls/seg', livePlaylistName: 'live.m3u8' })] }),
    plan: {
      segments: {
        filenamePrefix: 'hls/seg',
        playlistName: '',
        livePlaylistName: 'live.m3u8',
        segmentDurationSec: 4,
        filenameSuffix: 'index',
        storage: { kind: 'service' },
      },
      encoding: { audioCodec: 'aac', keyFrameIntervalSec: 0 },
    },
  },
  {
    name: 'Segments/KeyframeIntervalShortensSegments',
    request: () =>
      room({
        fileOutputs: [],
        streamOutputs: [rtmp()],
        segmentOutputs: [new SegmentedFileOutput({ segmentDuration: 6 })],
        options: advanced({ keyFrameInterval: 2 }),
      }),
    plan: { segments: { segmentDurationSec: 2 }, encoding: { keyFrameIntervalSec: 0 } },
  },
  {
    name: 'Images/Defaults',
    request: () =>
      room({
        fileOutputs: [],
        imageOutputs: [new ImageOutput(), new ImageOutput({ width: 640, height: 360, filenameSuffix: 1 })],
        options: preset(EncodingOptionsPreset.H264_1080P_30),
      }),
    plan: {
      audio: false,
      video: true,
      images: [
        { captureIntervalSec: 10, width: 1920, height: 1080, filenamePrefix: '', filenameSuffix: 'index', storage: { kind: 'service' } },
        { width: 640, height: 360, filenameSuffix: 'timestamp' },
      ],
    },
  },
  {
    name: 'Storage/S3KeepsNoSecrets',
    request: () =>
      RoomCompositeEgressRequest.fromJson({
        room_name: 'my-room',
        file_outputs: [
          { filepath: '/recordings/{room_name}.mp4', s3: { access_key: 'AKIA_SECRET', secret: 'TOPSECRET', bucket: 'bkt', region: 'eu-west-1' } },
        ],
      }),
    plan: { file: { fileType: 'mp4', filepath: '/recordings/{room_name}.mp4', storage: { kind: 's3', bucket: 'bkt' } } },
  },
  {
    name: 'Participant/Base',
    request: () =>
      ParticipantEgressRequest.fromJson({
        room_name: 'my-room',
        identity: 'alice',
        screen_share: true,
        file_outputs: [{ filepath: '{publisher_identity}/' }],
      }),
    plan: {
      requestKind: 'participant',
      roomName: 'my-room',
      source: { kind: 'participant', identity: 'alice', screenShare: true },
      audio: true,
      video: true,
      file: { fileType: 'mp4' },
    },
  },
  {
    name: 'TrackComposite/AudioOnly',
    request: () => new TrackCompositeEgressRequest({ roomName: 'my-room', audioTrackId: 'TR_A', fileOutputs: [file()] }),
    plan: {
      source: { kind: 'track_composite', audioTrackId: 'TR_A', videoTrackId: '' },
      audio: true,
      video: false,
      file: { fileType: 'ogg' },
      encoding: { audioCodec: 'opus' },
    },
  },
  {
    name: 'TrackComposite/LegacySegments',
    request: () =>
      TrackCompositeEgressRequest.fromJson({
        room_name: 'my-room',
        video_track_id: 'TR_V',
        segments: { filename_prefix: 'p' },
        segment_outputs: [{ filename_prefix: 'p' }],
      }),
    plan: { audio: false, video: true, segments: { filenamePrefix: 'p' } },
  },
  {
    name: 'Track/FileAuto',
    request: () => TrackEgressRequest.fromJson({ room_name: 'my-room', track_id: 'TR_1', file: { filepath: 'tracks/{track_id}-{time}' } }),
    plan: {
      requestKind: 'track',
      source: { kind: 'track', trackId: 'TR_1' },
      file: { fileType: 'auto', filepath: 'tracks/{track_id}-{time}', storage: { kind: 'service' } },
      images: [],
    },
    absent: ['stream'],
  },
  {
    name: 'Track/FileExtensionHint',
    request: () =>
      TrackEgressRequest.fromJson({
        room_name: 'my-room',
        track_id: 'TR_1',
        file: { filepath: '{track_id}.webm', gcp: { credentials: '{"k":1}', bucket: 'g' } },
      }),
    plan: { file: { fileType: 'webm', storage: { kind: 'gcp', bucket: 'g' } } },
  },
  {
    name: 'Track/Websocket',
    request: () => TrackEgressRequest.fromJson({ room_name: 'my-room', track_id: 'TR_1', websocket_url: 'wss://ws.example.com/audio?token=abc123' }),
    plan: {
      audio: true,
      video: false,
      stream: { protocol: 'websocket', redactedUrls: ['wss://ws.example.com/audio?token={...}'] },
      encoding: { audioCodec: 'pcm', audioFrequency: 48000 },
    },
    absent: ['file'],
  },
  {
    name: 'StartEgress/Template',
    request: () =>
      v2({
        template: { layout: 'grid', audio_only: true },
        outputs: [{ file: {}, storage: { s3: { bucket: 'per-output', secret: 'x' } } }],
        storage: { s3: { bucket: 'request' } },
      }),
    plan: {
      requestKind: 'egress',
      source: { kind: 'template', layout: 'grid', baseUrl: '' },
      audio: true,
      video: false,
      file: { fileType: 'ogg', storage: { kind: 's3', bucket: 'per-output' } },
    },
  },
  {
    name: 'StartEgress/WebRequestStorage',
    request: () =>
      v2({
        room_name: '',
        web: { url: 'https://example.com', video_only: true },
        advanced: { width: 1920, height: 1080 },
        storage: { azure: { account_name: 'acc', account_key: 'k', container_name: 'c' } },
      }),
    plan: {
      source: { kind: 'web' },
      audio: false,
      encoding: { width: 1920, height: 1080 },
      file: { fileType: 'mp4', storage: { kind: 'azure', container: 'c' } },
    },
  },
  {
    name: 'StartEgress/MediaTracks',
    request: () => v2({ media: { video_track_id: 'TR_V', audio: { routes: [{ track_id: 'TR_A' }] } }, outputs: [{ segments: {} }, { images: {} }] }),
    plan: {
      source: { kind: 'track_composite', audioTrackId: 'TR_A', videoTrackId: 'TR_V' },
      audio: true,
      video: true,
      segments: { segmentDurationSec: 4 },
      images: [{ width: 1280 }],
    },
  },
  {
    name: 'StartEgress/MediaParticipant',
    request: () =>
      v2({ media: { participant_video: { identity: 'alice', prefer_screen_share: true }, audio: { routes: [{ participant_identity: 'alice' }] } } }),
    plan: { source: { kind: 'participant', identity: 'alice', screenShare: true }, audio: true, video: true, file: { fileType: 'mp4' } },
  },
  {
    name: 'StartEgress/MediaParticipantAudio',
    request: () => v2({ media: { audio: { routes: [{ participant_identity: 'bob' }] } } }),
    plan: { source: { kind: 'participant', identity: 'bob' }, audio: true, video: false, file: { fileType: 'ogg' } },
  },
  {
    name: 'StartEgress/WebsocketDropsVideo',
    request: () => v2({ template: {}, outputs: [{ stream: { urls: ['wss://ws.example.com/pcm'] } }] }),
    plan: { audio: true, video: false, stream: { protocol: 'websocket' }, encoding: { audioCodec: 'pcm', audioFrequency: 48000 } },
  },
  {
    name: 'StartEgress/Passthrough',
    request: () => v2({ media: { audio: { routes: [{ track_id: 'TR_A' }] } }, preset: 'PASSTHROUGH', outputs: [{ file: { filepath: 'pass/' } }] }),
    plan: {
      requestKind: 'egress',
      source: { kind: 'track', trackId: 'TR_A' },
      audio: true,
      video: false,
      file: { fileType: 'auto', filepath: 'pass/' },
    },
  },
];

describe('validateRequest accepts', () => {
  for (const c of ACCEPTED) {
    test(c.name, () => {
      const { plan } = validateRequest(c.request(), ctx);
      assert.partialDeepStrictEqual(plan, c.plan);
      for (const key of c.absent ?? []) assert.equal(plan[key], undefined, `${key} should be absent`);
      // The plan is job data: it must survive JSON and hold no secret.
      assert.deepEqual(JSON.parse(JSON.stringify(plan)), plan);
      assert.doesNotMatch(JSON.stringify(plan), /AKIA_SECRET|TOPSECRET|stream_key_123|hunter22|my_stream_key|abc123/);
    });
  }

  test('Outputs/RequestUntouched', () => {
    const request = room({ streamOutputs: [rtmp()] });
    const before = request.clone();
    validateRequest(request, ctx);
    assert.ok(request.equals(before));
  });

  test('StartEgress/OutputStorageOverRequestStorage', () => {
    const request = new StartEgressRequest({
      roomName: 'r',
      source: {
        case: 'media',
        value: new MediaSource({ audio: new AudioConfig({ routes: [new AudioRoute({ match: { case: 'trackId', value: 'TR_A' } })] }) }),
      },
      outputs: [new Output({ config: { case: 'file', value: new FileOutput({ filepath: 'a' }) } })],
      storage: { provider: { case: 'gcp', value: { bucket: 'req' } } },
    });
    assert.partialDeepStrictEqual(validateRequest(request, ctx).plan.file?.storage, { kind: 'gcp', bucket: 'req' });
  });

  test('Storage/request credentials are sealed by ref, one ref per distinct config', () => {
    const s3 = { access_key: 'AKIA_SECRET', secret: 'TOPSECRET', bucket: 'bkt', endpoint: 'http://127.0.0.1:9000' };
    const request = RoomCompositeEgressRequest.fromJson({
      room_name: 'my-room',
      file_outputs: [{ filepath: 'a.mp4', s3 }],
      segment_outputs: [{ filename_prefix: 'hls/seg', s3 }],
      image_outputs: [{ filename_prefix: 'img/i', azure: { account_name: 'acct', account_key: 'hunter22', container_name: 'c' } }],
    });
    const { plan, secrets, request: shown } = validateRequest(request, ctx);
    const fileStorage = plan.file!.storage;
    assert.ok(fileStorage.kind === 's3' && /^s3-[0-9a-f]{16}$/.test(fileStorage.ref));
    assert.deepEqual(plan.segments!.storage, fileStorage, 'the same config is one ref');
    const imageStorage = plan.images[0]!.storage;
    assert.ok(imageStorage.kind === 'azure' && imageStorage.ref !== fileStorage.ref);
    assert.deepEqual(Object.keys(secrets.uploads ?? {}).sort(), [fileStorage.ref, imageStorage.ref].sort());
    const sealed = secrets.uploads![fileStorage.ref]!;
    assert.equal(sealed.kind, 's3');
    assert.equal(S3Upload.fromJsonString(sealed.json).secret, 'TOPSECRET');
    assert.equal(AzureBlobUpload.fromJsonString(secrets.uploads![imageStorage.ref]!.json).accountKey, 'hunter22');
    // The request as EgressInfo shows it comes from the same pass, its credentials redacted.
    assert.ok(shown.case === 'roomComposite');
    assert.doesNotMatch(shown.value.toJsonString(), /AKIA_SECRET|TOPSECRET|hunter22/);
  });

  test('Secrets/stream URLs in request order, one per distinct URL, beside a redacted plan', () => {
    const request = room({
      fileOutputs: [],
      streamOutputs: [rtmp('rtmp://a.example.com/app/stream_key_123', 'rtmp://b.example.com/app/k2', 'rtmp://a.example.com/app/stream_key_123')],
    });
    const { plan, secrets, request: shown } = validateRequest(request, ctx);
    assert.equal(secrets.streamProtocol, 'rtmp');
    assert.deepEqual(
      secrets.streams?.map((s) => s.url),
      ['rtmp://a.example.com/app/stream_key_123', 'rtmp://b.example.com/app/k2'],
    );
    assert.equal(plan.stream?.redactedUrls.length, 3);
    assert.ok(shown.case === 'roomComposite');
    assert.doesNotMatch(shown.value.toJsonString(), /stream_key_123/);
  });

  test('Secrets/TrackEgress websocket_url and file upload', () => {
    const ws = validateRequest(
      new TrackEgressRequest({ roomName: 'r', trackId: 'TR_A', output: { case: 'websocketUrl', value: 'wss://ws.example.com/in?token=abc123' } }),
      ctx,
    );
    assert.equal(ws.secrets.streamProtocol, 'websocket');
    assert.equal(ws.secrets.streams?.[0]?.url, 'wss://ws.example.com/in?token=abc123');
    assert.equal(ws.request.case, 'track');
    const s3 = new S3Upload({ accessKey: 'AKIA_SECRET', secret: 'TOPSECRET', bucket: 'b' });
    const file = validateRequest(
      new TrackEgressRequest({
        roomName: 'r',
        trackId: 'TR_A',
        output: { case: 'file', value: { filepath: 'x', output: { case: 's3', value: s3 } } },
      }),
      ctx,
    );
    const storage = file.plan.file!.storage;
    assert.ok(storage.kind === 's3');
    assert.deepEqual(Object.keys(file.secrets.uploads ?? {}), [storage.ref]);
  });

  test('Storage/AliOSS is refused at once, not after a recording', () => {
    const request = RoomCompositeEgressRequest.fromJson({
      room_name: 'r',
      file_outputs: [{ filepath: 'a.mp4', aliOSS: { access_key: 'a', secret: 'b', bucket: 'x' } }],
    });
    assert.throws(
      () => validateRequest(request, ctx),
      (err: EgressError) => err.code === 'EGR_ERR_NOT_SUPPORTED' && /AliOSS/.test(err.message),
    );
  });
});
