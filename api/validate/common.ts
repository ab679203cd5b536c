/**
 * Rules every request type shares: required fields, audio_only/video_only, http(s) URLs. Each request
 * file turns its source fields into `SourceParts` with these, then hands over to `encodedPlan`.
 */
import type { SourcePlan } from '../../shared/egress-plan.ts';
import { invalidField } from '../../shared/errors.ts';
import type { Limits } from '../../shared/limits.ts';

export interface ValidateContext {
  /** Server-assigned `EG_…` id. */
  egressId: string;
  /** Unix ms the request arrived: `{time}`/`{utc}` in names and `requestedAt`. */
  now: number;
  /** The config's `limits`: what a worker will be asked to do at most. */
  limits: Limits;
}

/** What a request records, before encoding and outputs. */
export interface SourceParts {
  source: SourcePlan;
  audio: boolean;
  video: boolean;
}

export function requireField(value: string, field: string): string {
  if (value.trim() === '') throw invalidField(field);
  return value;
}

/** audio_only / video_only → what to record; both set leaves nothing. */
export function mediaFlags(audioOnly: boolean, videoOnly: boolean): { audio: boolean; video: boolean } {
  if (audioOnly && videoOnly) throw invalidField('audio_only and video_only');
  return { audio: !videoOnly, video: !audioOnly };
}

/** A URL Chrome will load: it must parse and be http or https. */
export function requireHttpUrl(url: string, field: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // refused below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) throw invalidField(field);
  return url;
}
