/**
 * The rules across a request's outputs (egress `pkg/config/output*.go`): at most one file, stream and
 * segments output, bounded image outputs and stream URLs, each output checked by its kind's module, and what
 * the outputs imply for audio and video. The order of the checks is LiveKit's, so a request with several
 * faults is refused for the same one.
 */
import type { ImageOutputPlan, SegmentsOutputPlan } from '../../../shared/egress-plan.ts';
import { invalidField } from '../../../shared/errors.ts';
import { checkFile, type DraftFile } from './file.ts';
import type { RequestedOutputs } from './gather.ts';
import { checkImages } from './images.ts';
import type { OutputContext } from './output-context.ts';
import { checkSegments } from './segments.ts';
import { checkStream, type DraftStream } from './stream.ts';

export interface CheckedOutputs {
  file?: DraftFile;
  stream?: DraftStream;
  segments?: SegmentsOutputPlan;
  images: ImageOutputPlan[];
  /** audio / video once the outputs had their say (WebSocket: no video; images only: no audio). */
  audio: boolean;
  video: boolean;
}

/** At most one of each, LiveKit's messages. */
function single<T>(list: readonly T[], field: string): T | undefined {
  if (list.length > 1) throw invalidField(field);
  return list[0];
}

/** Counts, per-output rules, and what the outputs imply for audio and video. */
export function checkOutputs(requested: RequestedOutputs, ctx: OutputContext): CheckedOutputs {
  const fileRequest = single(requested.files, 'multiple file outputs');
  const streamRequest = single(requested.streams, 'multiple stream outputs');
  const segmentsRequest = single(requested.segments, 'multiple segmented file outputs');

  if (requested.images.length > ctx.limits.max_image_outputs) throw invalidField('image outputs', `at most ${ctx.limits.max_image_outputs}`);
  if (streamRequest && streamRequest.urls.length > ctx.limits.max_stream_urls)
    throw invalidField('stream urls', `at most ${ctx.limits.max_stream_urls}`);

  const file = fileRequest && checkFile(fileRequest, ctx.vars);
  const stream = streamRequest && checkStream(streamRequest, ctx.allowWebsocket);
  const segments = segmentsRequest && checkSegments(segmentsRequest, ctx);
  // An empty stream output only makes sense next to others (URLs come later through UpdateStream).
  if (stream && stream.targets.length === 0 && !file && !segments && requested.images.length === 0) throw invalidField('stream url');

  // WebSocket carries raw audio only.
  const video = ctx.video && !(stream?.protocol === 'websocket' && ctx.audio);
  if (requested.images.length > 0 && !video) throw invalidField('audio_only images');
  const images = requested.images.map((image) => checkImages(image, ctx));

  if (!file && !segments && !stream && images.length === 0) throw invalidField('output');
  // Images alone: nothing would carry the audio.
  const audio = ctx.audio && Boolean(file || segments || stream);
  return { ...(file ? { file } : {}), ...(stream ? { stream } : {}), ...(segments ? { segments } : {}), images, audio, video };
}
