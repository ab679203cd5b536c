/**
 * Request validation, table-driven: every rejection names its field the way LiveKit does
 * (`request has missing or invalid field: <field>`, invalid_argument), and accepted requests resolve to
 * the expected plan. Requests are built with the protocol classes and, for some, decoded from snake_case
 * JSON as the Twirp layer does.
 */
import {
  AudioCodec,
  AudioConfig,
  AudioRoute,
  AzureBlobUpload,
  EncodedFileOutput,
  EncodedFileType,
  EncodingOptions,
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
import { EgressError, type ErrorCode } from '../../shared/errors.ts';
import { DEFAULT_LIMITS, type Limits } from '../../shared/limits.ts';

/** A number no enum of the protocol knows, as a client could send. */
const UNKNOWN_ENUM = 99 as never;

const ctx = { egressId: 'EG_test', now: Date.UTC(2026, 10, 24, 8, 32, 0, 7), limits: DEFAULT_LIMITS };

const mp4 = (filepath = 'rec.mp4') => new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath });
const file = (filepath = 'rec', fileType = EncodedFileType.DEFAULT_FILETYPE) => new EncodedFileOutput({ fileType, filepath });
const rtmp = (...urls: string[]) =>
  new StreamOutput({ protocol: StreamProtocol.DEFAULT_PROTOCOL, urls: urls.length ? urls : ['rtmp://live.example.com/app/stream_key_123'] });
const room = (fields: ConstructorParameters<typeof RoomCompositeEgressRequest>[0] = {}) =>
  new RoomCompositeEgressRequest({ roomName: 'my-room', fileOutputs: [mp4()], ...fields });
const web = (fields: ConstructorParameters<typeof WebEgressRequest>[0] = {}) =>
  new WebEgressRequest({ url: 'https://example.com', fileOutputs: [mp4()], ...fields });
const advanced = (fields: ConstructorParameters<typeof EncodingOptions>[0]) => ({ case: 'advanced' as const, value: new EncodingOptions(fields) });
const preset = (value: EncodingOptionsPreset) => ({ case: 'preset' as const, value });
const v2 = (json: Record<string, unknown>) =>
  StartEgressRequest.fromJson({ room_name: 'my-room', outputs: [{ file: { filepath: 'rec' } }], ...json });

interface Rejection {
  name: string;
  request: () => AnyStartRequest;
  /** The field of `request has missing or invalid field: <field>`. */
  field?: string;
  /** Or LiveKit's exact message, for errors that are not about one field. */
  message?: string;
  code?: ErrorCode;
  egressId?: string;
  /** Config limits other than the defaults. */
  limits?: Partial<Limits>;
}

const REJECTED: Rejection[] = [
  { name: 'Common/NoEgressId', request: () => web(), field: 'egressID', egressId: '' },

  { name: 'Web/BadScheme', request: () => web({ url: 'ftp://example.com/page' }), field: 'web url' },
  { name: 'Web/NoUrl', request: () => web({ url: '' }), field: 'web url' },
  { name: 'Web/NotAUrl', request: () => web({ url: 'example.com' }), field: 'web url' },
  { name: 'Web/BothOnly', request: () => web({ audioOnly: true, videoOnly: true }), field: 'audio_only and video_only' },

  { name: 'RoomComposite/NoRoom', request: () => room({ roomName: '' }), field: 'room_name' },
  { name: 'RoomComposite/BothOnly', request: () => room({ audioOnly: true, videoOnly: true }), field: 'audio_only and video_only' },
  { name: 'RoomComposite/BadBaseUrl', request: () => room({ customBaseUrl: 'file:///etc/passwd' }), field: 'template base url' },
  { name: 'RoomComposite/BadAudioMixing', request: () => room({ audioMixing: UNKNOWN_ENUM }), field: 'audio_mixing' },

  { name: 'Encoding/Passthrough', request: () => room({ options: preset(EncodingOptionsPreset.PASSTHROUGH) }), field: 'preset' },
  { name: 'Encoding/UnknownPreset', request: () => room({ options: preset(UNKNOWN_ENUM) }), field: 'preset' },
  { name: 'Encoding/OddWidth', request: () => room({ options: advanced({ width: 641 }) }), field: 'width' },
  { name: 'Encoding/TinyHeight', request: () => room({ options: advanced({ height: 8 }) }), field: 'height' },
  { name: 'Encoding/NegativeWidth', request: () => room({ options: advanced({ width: -1280 }) }), field: 'width' },
  { name: 'Encoding/BadDepth', request: () => room({ options: advanced({ depth: 32 }) }), field: 'depth' },
  { name: 'Encoding/NegativeFramerate', request: () => room({ options: advanced({ framerate: -30 }) }), field: 'framerate' },
  { name: 'Encoding/NegativeBitrate', request: () => room({ options: advanced({ videoBitrate: -1 }) }), field: 'video_bitrate' },

  { name: 'Outputs/None', request: () => room({ fileOutputs: [] }), field: 'output' },
  { name: 'Outputs/TwoFiles', request: () => room({ fileOutputs: [mp4('a.mp4'), mp4('b.mp4')] }), field: 'multiple file outputs' },
  {
    name: 'Outputs/LegacyFileDiffers',
    request: () => room({ output: { case: 'file', value: mp4('a.mp4') }, fileOutputs: [mp4('b.mp4')] }),
    field: 'multiple file outputs',
  },
  { name: 'Outputs/TwoStreams', request: () => room({ streamOutputs: [rtmp(), rtmp()] }), field: 'multiple stream outputs' },
  {
    name: 'Outputs/LegacyStreamDiffers',
    request: () =>
      room({ output: { case: 'stream', value: rtmp('rtmp://a.example.com/app/one') }, streamOutputs: [rtmp('rtmp://a.example.com/app/two')] }),
    field: 'multiple stream outputs',
  },
  {
    name: 'Outputs/TwoSegments',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput(), new SegmentedFileOutput()] }),
    field: 'multiple segmented file outputs',
  },
  { name: 'Outputs/AudioOnlyImages', request: () => room({ audioOnly: true, imageOutputs: [new ImageOutput()] }), field: 'audio_only images' },
  { name: 'Outputs/UnknownFileType', request: () => room({ fileOutputs: [file('x', UNKNOWN_ENUM)] }), field: 'file_type' },

  {
    name: 'Codec/MP3WithVideo',
    request: () => room({ fileOutputs: [file('a', EncodedFileType.MP3)] }),
    message: 'no supported codec is compatible with all outputs',
  },
  {
    name: 'Codec/OGGWithVideo',
    request: () => room({ fileOutputs: [file('a', EncodedFileType.OGG)] }),
    message: 'no supported codec is compatible with all outputs',
  },
  {
    name: 'Codec/MP3WithVideoCodecNamed',
    request: () => room({ fileOutputs: [file('a', EncodedFileType.MP3)], options: advanced({ videoCodec: VideoCodec.H264_HIGH }) }),
    message: 'format audio/mpeg incompatible with codec video/h264',
  },
  {
    name: 'Codec/HLSWithMP3Codec',
    request: () =>
      room({ audioOnly: true, fileOutputs: [], segmentOutputs: [new SegmentedFileOutput()], options: advanced({ audioCodec: AudioCodec.AC_MP3 }) }),
    message: 'format application/x-mpegurl incompatible with codec audio/mpeg',
  },
  {
    name: 'Codec/HLSWithMP3File',
    request: () => room({ audioOnly: true, fileOutputs: [file('a', EncodedFileType.MP3)], segmentOutputs: [new SegmentedFileOutput()] }),
    message: 'no supported codec is compatible with all outputs',
  },
  {
    name: 'Codec/MP3FileWithOpus',
    request: () => room({ audioOnly: true, fileOutputs: [file('a', EncodedFileType.MP3)], options: advanced({ audioCodec: AudioCodec.OPUS }) }),
    message: 'format audio/mpeg incompatible with codec audio/opus',
  },
  {
    name: 'Codec/MP4WithMP3Codec',
    request: () => room({ options: advanced({ audioCodec: AudioCodec.AC_MP3 }) }),
    message: 'format video/mp4 incompatible with codec audio/mpeg',
  },
  {
    name: 'Codec/RTMPForcesAACOverOGG',
    request: () => room({ audioOnly: true, fileOutputs: [file('a', EncodedFileType.OGG)], streamOutputs: [rtmp()] }),
    message: 'format audio/ogg incompatible with codec audio/aac',
  },
  {
    name: 'Codec/NoDefaultFileTypeForPCM',
    request: () =>
      v2({ media: { audio: { routes: [{ track_id: 'TR_A' }] } }, outputs: [{ file: {} }, { stream: { urls: ['wss://ws.example.com/audio'] } }] }),
    message: 'no supported file output type is compatible with the selected codecs',
  },

  { name: 'Stream/DefaultProtocolNoUrls', request: () => room({ fileOutputs: [], streamOutputs: [new StreamOutput()] }), field: 'stream protocol' },
  {
    name: 'Stream/UnknownProtocol',
    request: () => room({ streamOutputs: [new StreamOutput({ protocol: UNKNOWN_ENUM, urls: ['rtmp://h/app/k'] })] }),
    field: 'stream protocol',
  },
  {
    name: 'Stream/EmptyAlone',
    request: () => room({ fileOutputs: [], streamOutputs: [new StreamOutput({ protocol: StreamProtocol.RTMP })] }),
    field: 'stream url',
  },
  {
    name: 'Stream/BadScheme',
    request: () => room({ streamOutputs: [new StreamOutput({ protocol: StreamProtocol.RTMP, urls: ['srt://srt.example.com:9000'] })] }),
    message: 'invalid url srt://srt.example.com:9000: invalid scheme',
  },
  {
    name: 'Stream/MixedSchemes',
    request: () => room({ streamOutputs: [rtmp('rtmp://a.example.com/app/key', 'srt://srt.example.com:9000')] }),
    message: 'invalid url srt://srt.example.com:9000: invalid scheme',
  },
  {
    name: 'Stream/UnknownScheme',
    request: () => room({ streamOutputs: [rtmp('http://a.example.com/app/key')] }),
    message: 'invalid url http://a.example.com/app/key: invalid protocol',
  },
  {
    name: 'Stream/RtmpNoApp',
    request: () => room({ streamOutputs: [rtmp('rtmp://a.example.com')] }),
    message: 'invalid url rtmp://a.example.com: rtmp urls must be of format rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1)',
  },
  { name: 'Stream/Twitch', request: () => room({ streamOutputs: [rtmp('twitch://live_12345678_abcdefghijklmnop')] }), field: 'stream url' },
  { name: 'Stream/WebsocketInV1', request: () => room({ streamOutputs: [rtmp('wss://ws.example.com/audio')] }), field: 'stream protocol' },

  {
    name: 'Segments/LivePlaylistOtherDir',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput({ playlistName: 'a/p.m3u8', livePlaylistName: 'b/live.m3u8' })] }),
    field: 'live_playlist_name',
  },
  {
    name: 'Segments/LivePlaylistSameName',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput({ playlistName: 'a/p.m3u8', livePlaylistName: 'a/p' })] }),
    field: 'live_playlist_name',
  },
  {
    name: 'Segments/BadSuffix',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput({ filenameSuffix: UNKNOWN_ENUM })] }),
    field: 'filename_suffix',
  },
  { name: 'Segments/BadProtocol', request: () => room({ segmentOutputs: [new SegmentedFileOutput({ protocol: UNKNOWN_ENUM })] }), field: 'protocol' },
  {
    name: 'Segments/PrefixEscapes',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput({ filenamePrefix: '../../seg' })] }),
    field: 'filename_prefix',
  },

  { name: 'Images/BadSuffix', request: () => room({ imageOutputs: [new ImageOutput({ filenameSuffix: UNKNOWN_ENUM })] }), field: 'filename_suffix' },
  {
    name: 'Images/NotJPEG',
    request: () => room({ imageOutputs: [new ImageOutput({ imageCodec: UNKNOWN_ENUM })] }),
    message: 'no supported codec is compatible with all outputs',
  },
  {
    name: 'Images/PrefixAbsolute',
    request: () => room({ imageOutputs: [new ImageOutput({ filenamePrefix: '/etc/thumbs' })] }),
    field: 'filename_prefix',
  },

  { name: 'File/DotDotEscapes', request: () => room({ fileOutputs: [mp4('a/../../etc/x.mp4')] }), field: 'filepath' },
  { name: 'File/Absolute', request: () => room({ fileOutputs: [mp4('/etc/cron.d/x.mp4')] }), field: 'filepath' },
  { name: 'File/TemplateEscapes', request: () => room({ roomName: '../../etc', fileOutputs: [mp4('{room_name}/x.mp4')] }), field: 'filepath' },
  { name: 'File/GeneratedNameEscapes', request: () => room({ roomName: '../../etc', fileOutputs: [mp4('')] }), field: 'filepath' },

  {
    name: 'Storage/S3NoBucket',
    request: () =>
      room({
        fileOutputs: [new EncodedFileOutput({ filepath: 'x.mp4', output: { case: 's3', value: new S3Upload({ accessKey: 'AK', secret: 'S' }) } })],
      }),
    field: 's3.bucket',
  },
  {
    name: 'Storage/S3AssumeRoleDisabled',
    request: () =>
      room({
        fileOutputs: [
          new EncodedFileOutput({ output: { case: 's3', value: new S3Upload({ bucket: 'b', assumeRoleArn: 'arn:aws:iam::1:role/x' }) } }),
        ],
      }),
    message: 'S3 upload using AssumeRole is disabled for this account',
    code: 'EGR_ERR_PERMISSION_DENIED',
  },

  { name: 'Participant/NoRoom', request: () => new ParticipantEgressRequest({ identity: 'alice', fileOutputs: [mp4()] }), field: 'room_name' },
  { name: 'Participant/NoIdentity', request: () => new ParticipantEgressRequest({ roomName: 'my-room', fileOutputs: [mp4()] }), field: 'identity' },

  {
    name: 'TrackComposite/NoTracks',
    request: () => new TrackCompositeEgressRequest({ roomName: 'my-room', fileOutputs: [mp4()] }),
    field: 'audio_track_id or video_track_id',
  },
  {
    name: 'TrackComposite/Passthrough',
    request: () =>
      new TrackCompositeEgressRequest({
        roomName: 'my-room',
        videoTrackId: 'TR_V',
        fileOutputs: [mp4()],
        options: preset(EncodingOptionsPreset.PASSTHROUGH),
      }),
    field: 'preset',
  },

  { name: 'Track/NoTrackId', request: () => TrackEgressRequest.fromJson({ room_name: 'my-room', file: { filepath: 'x' } }), field: 'track_id' },
  { name: 'Track/NoOutput', request: () => new TrackEgressRequest({ roomName: 'my-room', trackId: 'TR_1' }), field: 'output' },
  {
    name: 'Track/WebsocketScheme',
    request: () => TrackEgressRequest.fromJson({ room_name: 'my-room', track_id: 'TR_1', websocket_url: 'https://ws.example.com/a' }),
    message: 'invalid url https://ws.example.com/a: invalid scheme',
  },
  {
    name: 'Track/FileEscapes',
    request: () => TrackEgressRequest.fromJson({ room_name: 'my-room', track_id: 'TR_1', file: { filepath: '../{track_id}' } }),
    field: 'filepath',
  },

  { name: 'StartEgress/NoSource', request: () => v2({}), field: 'source' },
  { name: 'StartEgress/NoOutputs', request: () => v2({ web: { url: 'https://example.com' }, outputs: [] }), field: 'output' },
  {
    name: 'StartEgress/EmptyOutput',
    request: () => new StartEgressRequest({ roomName: 'r', source: { case: 'web', value: { url: 'https://example.com' } }, outputs: [new Output()] }),
    field: 'output config',
  },
  { name: 'StartEgress/TemplateNoRoom', request: () => v2({ room_name: '', template: { layout: 'grid' } }), field: 'room_name' },
  { name: 'StartEgress/TemplateBaseUrl', request: () => v2({ template: { custom_base_url: 'javascript:alert(1)' } }), field: 'template base url' },
  {
    name: 'StartEgress/TemplateBothOnly',
    request: () => v2({ template: { audio_only: true, video_only: true } }),
    field: 'audio_only and video_only',
  },
  { name: 'StartEgress/WebBadScheme', request: () => v2({ web: { url: 'chrome://settings' } }), field: 'web url' },
  { name: 'StartEgress/MediaEmpty', request: () => v2({ media: {} }), field: 'audio or video' },
  {
    name: 'StartEgress/MediaCaptureAll',
    request: () => v2({ media: { audio: { capture_all: true } } }),
    message: 'media source: audio capture_all is not supported yet',
    code: 'EGR_ERR_NOT_SUPPORTED',
  },
  {
    name: 'StartEgress/MediaLeftChannel',
    request: () => v2({ media: { audio: { routes: [{ track_id: 'TR_A', channel: 'AUDIO_CHANNEL_LEFT' }] } } }),
    message: 'media source: an audio route to one channel is not supported yet',
    code: 'EGR_ERR_NOT_SUPPORTED',
  },
  { name: 'StartEgress/MediaEmptyVideoTrack', request: () => v2({ media: { video_track_id: '' } }), field: 'video_track_id' },
  {
    name: 'StartEgress/StorageNoBucket',
    request: () => v2({ web: { url: 'https://example.com' }, storage: { gcp: { credentials: '{}' } } }),
    field: 'gcp.bucket',
  },
  { name: 'Passthrough/NotMedia', request: () => v2({ web: { url: 'https://example.com' }, preset: 'PASSTHROUGH' }), field: 'passthrough source' },
  {
    name: 'Passthrough/ParticipantVideo',
    request: () => v2({ media: { participant_video: { identity: 'alice' } }, preset: 'PASSTHROUGH' }),
    field: 'passthrough participant_video',
  },
  {
    name: 'Passthrough/TwoTracks',
    request: () => v2({ media: { video_track_id: 'TR_V', audio: { routes: [{ track_id: 'TR_A' }] } }, preset: 'PASSTHROUGH' }),
    field: 'passthrough track_id',
  },
  {
    name: 'Passthrough/CaptureAll',
    request: () => v2({ media: { audio: { capture_all: true } }, preset: 'PASSTHROUGH' }),
    field: 'passthrough capture_all',
  },
  {
    name: 'Passthrough/RouteByIdentity',
    request: () => v2({ media: { audio: { routes: [{ participant_identity: 'a' }] } }, preset: 'PASSTHROUGH' }),
    field: 'passthrough audio route match',
  },
  {
    name: 'Passthrough/TwoOutputs',
    request: () => v2({ media: { video_track_id: 'TR_V' }, preset: 'PASSTHROUGH', outputs: [{ file: {} }, { file: {} }] }),
    field: 'passthrough outputs',
  },
  {
    name: 'Passthrough/NotFile',
    request: () => v2({ media: { video_track_id: 'TR_V' }, preset: 'PASSTHROUGH', outputs: [{ segments: {} }] }),
    field: 'passthrough output',
  },
  {
    name: 'Passthrough/FileType',
    request: () => v2({ media: { video_track_id: 'TR_V' }, preset: 'PASSTHROUGH', outputs: [{ file: { file_type: 'MP4' } }] }),
    field: 'passthrough file_type',
  },

  // Bounds (test/security/bounds.test.ts has them all, through the API).
  { name: 'Bounds/WidthOverMax', request: () => room({ options: advanced({ width: 3842 }) }), field: 'width' },
  { name: 'Bounds/PixelsOverMax', request: () => room({ options: advanced({ width: 3840, height: 3840 }) }), field: 'width and height' },
  { name: 'Bounds/AudioFrequencyNotARate', request: () => room({ options: advanced({ audioFrequency: 2 ** 31 - 1 }) }), field: 'audio_frequency' },
  {
    name: 'Bounds/MP3Over48k',
    request: () => room({ audioOnly: true, fileOutputs: [file('a', EncodedFileType.MP3)], options: advanced({ audioFrequency: 88200 }) }),
    field: 'audio_frequency',
  },
  {
    name: 'Bounds/SegmentDuration',
    request: () => room({ segmentOutputs: [new SegmentedFileOutput({ segmentDuration: 2 ** 32 - 1 })] }),
    field: 'segment_duration',
  },
  { name: 'Bounds/CaptureInterval', request: () => room({ imageOutputs: [new ImageOutput({ captureInterval: 3601 })] }), field: 'capture_interval' },
  { name: 'Bounds/ImageNegative', request: () => room({ imageOutputs: [new ImageOutput({ height: -1 })] }), field: 'image height' },
  { name: 'Bounds/ImageOutputs', request: () => room({ imageOutputs: Array.from({ length: 5 }, () => new ImageOutput()) }), field: 'image outputs' },
  {
    name: 'Bounds/StreamUrls',
    request: () => room({ streamOutputs: [rtmp(...Array.from({ length: 11 }, (_, i) => `rtmp://live.example.com/app/k${i}`))] }),
    field: 'stream urls',
  },
  { name: 'Bounds/RoomName', request: () => room({ roomName: 'r'.repeat(1025) }), field: 'room_name' },
  { name: 'Bounds/LegacyFilepath', request: () => room({ output: { case: 'file', value: mp4('x'.repeat(1025)) } }), field: 'file.filepath' },
  { name: 'Bounds/GeneratedNameTooLong', request: () => room({ roomName: 'r'.repeat(250), fileOutputs: [file('')] }), field: 'filepath' },
  {
    name: 'Bounds/PresetOverConfiguredFramerate',
    request: () => room({ options: preset(EncodingOptionsPreset.H264_720P_60) }),
    field: 'preset',
    limits: { max_framerate: 30 },
  },
  { name: 'Bounds/DefaultOverConfiguredWidth', request: () => room(), field: 'preset', limits: { max_width: 640 } },
  {
    name: 'Bounds/DefaultBitrateOverConfigured',
    request: () => room({ options: advanced({ width: 640 }) }),
    field: 'video_bitrate',
    limits: { max_video_bitrate: 1000 },
  },
];

function rejectionOf(request: AnyStartRequest, egressId = ctx.egressId, limits: Partial<Limits> = {}): EgressError {
  try {
    validateRequest(request, { ...ctx, egressId, limits: { ...DEFAULT_LIMITS, ...limits } });
  } catch (err) {
    assert.ok(err instanceof EgressError, `not an EgressError: ${String(err)}`);
    return err;
  }
  assert.fail('the request was accepted');
}

describe('validateRequest rejects', () => {
  for (const c of REJECTED) {
    test(c.name, () => {
      const err = rejectionOf(c.request(), c.egressId, c.limits);
      const code = c.code ?? 'EGR_ERR_INVALID_ARGUMENT';
      assert.equal(err.code, code);
      if (code === 'EGR_ERR_INVALID_ARGUMENT') {
        assert.equal(err.twirp, 'invalid_argument');
        assert.equal(err.httpStatus, 400);
      }
      if (c.field !== undefined) {
        const expected = `request has missing or invalid field: ${c.field}`;
        assert.ok(err.message === expected || err.message.startsWith(`${expected} (`), err.message);
        assert.equal(err.meta.field, c.field);
      }
      if (c.message !== undefined) assert.equal(err.message, c.message);
    });
  }

  test('Stream/KeyNeverInMessage', () => {
    const err = rejectionOf(
      room({ streamOutputs: [new StreamOutput({ protocol: StreamProtocol.SRT, urls: ['rtmp://a.example.com/app/super_secret_key'] })] }),
    );
    assert.equal(err.message, 'invalid url rtmp://a.example.com/app/{sup...key}: invalid scheme');
  });
});

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
