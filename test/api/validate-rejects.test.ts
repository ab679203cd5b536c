/**
 * Request validation, rejections, table-driven: every rejection names its field the way LiveKit does
 * (`request has missing or invalid field: <field>`, invalid_argument), in LiveKit's order of checks.
 */
import {
  AudioCodec,
  EncodedFileOutput,
  EncodedFileType,
  EncodingOptionsPreset,
  ImageOutput,
  Output,
  ParticipantEgressRequest,
  S3Upload,
  SegmentedFileOutput,
  StartEgressRequest,
  StreamOutput,
  StreamProtocol,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  VideoCodec,
} from '@livekit/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateRequest, type AnyStartRequest } from '../../api/validate/index.ts';
import { EgressError, type ErrorCode } from '../../shared/errors.ts';
import { DEFAULT_LIMITS, type Limits } from '../../shared/limits.ts';
import { advanced, ctx, file, mp4, preset, room, rtmp, UNKNOWN_ENUM, v2, web } from '../support/start-requests.ts';

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
