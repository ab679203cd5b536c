/**
 * The registry of output kinds a request may name, in LiveKit's order of checks (egress
 * `pkg/config/output*.go`), so a request with several faults is refused for the same one. check.ts walks it
 * phase by phase, each phase over every kind in this order:
 *   1. counts: at most one file, stream and segments output, at most `max_image_outputs` images;
 *   2. bounds inside an output: at most `max_stream_urls` URLs;
 *   3. the early kinds' rules (file, stream, segments), each knowing whether others were requested;
 *   4. video settled (a kind may rule it out: a WebSocket);
 *   5. the late kinds' rules (images: they need video);
 *   6. at least one output; audio settled (only kinds that carry it keep it).
 * Gathering (gather.ts) and the secrets follow the same order. The codecs are negotiated over the kinds'
 * containers in CONTAINER_ORDER (LiveKit's: file, segments, stream), which may differ.
 * A new kind is a module with a RequestKindSpec (output-kind.ts) and a line in each list here.
 */
import { fileKind } from './file.ts';
import { imagesKind } from './images.ts';
import type { RequestOutputKind } from './output-kind.ts';
import { segmentsKind } from './segments.ts';
import { streamKind } from './stream.ts';

export const REQUEST_OUTPUT_KINDS: readonly RequestOutputKind[] = [fileKind, streamKind, segmentsKind, imagesKind];

/** Kind names in the order their containers constrain the codecs (kinds without a container left out). */
export const CONTAINER_ORDER: readonly string[] = [fileKind.name, segmentsKind.name, streamKind.name];
