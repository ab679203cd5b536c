/**
 * Start requests as the validation tests build them: with the protocol classes (and, for StartEgress, decoded
 * from snake_case JSON as the Twirp layer does), around one fixed validation context.
 */
import {
  EncodedFileOutput,
  EncodedFileType,
  EncodingOptions,
  type EncodingOptionsPreset,
  RoomCompositeEgressRequest,
  StartEgressRequest,
  StreamOutput,
  StreamProtocol,
  WebEgressRequest,
} from '@livekit/protocol';
import { DEFAULT_LIMITS } from '../../shared/limits.ts';

/** A number no enum of the protocol knows, as a client could send. */
export const UNKNOWN_ENUM = 99 as never;

export const ctx = { egressId: 'EG_test', now: Date.UTC(2026, 10, 24, 8, 32, 0, 7), limits: DEFAULT_LIMITS };

export const mp4 = (filepath = 'rec.mp4') => new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath });
export const file = (filepath = 'rec', fileType = EncodedFileType.DEFAULT_FILETYPE) => new EncodedFileOutput({ fileType, filepath });
export const rtmp = (...urls: string[]) =>
  new StreamOutput({ protocol: StreamProtocol.DEFAULT_PROTOCOL, urls: urls.length ? urls : ['rtmp://live.example.com/app/stream_key_123'] });
export const room = (fields: ConstructorParameters<typeof RoomCompositeEgressRequest>[0] = {}) =>
  new RoomCompositeEgressRequest({ roomName: 'my-room', fileOutputs: [mp4()], ...fields });
export const web = (fields: ConstructorParameters<typeof WebEgressRequest>[0] = {}) =>
  new WebEgressRequest({ url: 'https://example.com', fileOutputs: [mp4()], ...fields });
export const advanced = (fields: ConstructorParameters<typeof EncodingOptions>[0]) => ({
  case: 'advanced' as const,
  value: new EncodingOptions(fields),
});
export const preset = (value: EncodingOptionsPreset) => ({ case: 'preset' as const, value });
export const v2 = (json: Record<string, unknown>) =>
  StartEgressRequest.fromJson({ room_name: 'my-room', outputs: [{ file: { filepath: 'rec' } }], ...json });
