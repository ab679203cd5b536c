/**
 * Track egress (v1 StartTrackEgress, v2 PASSTHROUGH): one track of a room, not transcoded, to a file whose
 * container follows its codec; or, for an audio track, raw PCM to a WebSocket.
 */
import type { Recorder } from '../recording/recorder-contract.ts';
import { recordTrackFile } from './passthrough-recorder.ts';
import { recordTrackWebSocket } from './websocket-recorder.ts';

export const recordTrack: Recorder = (start) => (start.plan.stream?.protocol === 'websocket' ? recordTrackWebSocket(start) : recordTrackFile(start));
