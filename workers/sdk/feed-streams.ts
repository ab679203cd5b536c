/**
 * The decoded media of one subscribed track, read to its end and handed on (track-feeds.ts): video frames,
 * as I420, to the frame pacer while the track is the one shown; audio, 48 kHz stereo PCM, to its mixer input.
 * Each returns the function that cancels its stream.
 */
import { AudioStream, VideoBufferType, VideoStream, type RemoteTrack } from '@livekit/rtc-node';
import { RAW_AUDIO_CHANNELS, RAW_AUDIO_RATE } from '../capture/ffmpeg-args.ts';
import type { MixerInput } from './audio-mixer.ts';
import type { FramePacer } from './frame-pacer.ts';

/** Frames go to the pacer while `shown()`; `delivered()` after each one shown. */
export function pumpVideo(track: RemoteTrack, pacer: FramePacer, shown: () => boolean, delivered: () => void): () => void {
  return pump(new VideoStream(track), ({ frame }) => {
    if (!shown()) return;
    pacer.show(frame.type === VideoBufferType.I420 ? frame : frame.convert(VideoBufferType.I420));
    delivered();
  });
}

/** Samples go to the mixer input (which knows its own mute); `delivered()` after each while unmuted. */
export function pumpAudio(track: RemoteTrack, input: MixerInput, muted: () => boolean, delivered: () => void): () => void {
  return pump(new AudioStream(track, { sampleRate: RAW_AUDIO_RATE, numChannels: RAW_AUDIO_CHANNELS }), (frame) => {
    input.push(frame.data);
    if (!muted()) delivered();
  });
}

/** Reads a stream to its end, handing each value to `each`; the returned function cancels it. */
export function pump<T>(stream: ReadableStream<T>, each: (value: T) => void): () => void {
  const reader = stream.getReader();
  let cancelled = false;
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || cancelled) return;
        each(value);
      }
    } catch {
      // Cancelled, or the track went away: either way there is nothing more to read.
    }
  })();
  return () => {
    cancelled = true;
    void reader.cancel().catch(() => {});
  };
}
