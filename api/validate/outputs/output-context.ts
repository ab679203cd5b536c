/** What the rules of every output kind may consult (the media recorded, the encoding, naming, the limits), and the bound on seconds they share. */
import type { EncodingPlan } from '../../../shared/egress-plan.ts';
import type { Limits } from '../../../shared/limits.ts';
import type { NamingVars } from '../../../shared/naming.ts';
import { invalidField } from '../../../shared/errors.ts';

export interface OutputContext {
  audio: boolean;
  video: boolean;
  /** Image sizes default to it. */
  encoding: EncodingPlan;
  /** For checking names now, with what is known at request time. */
  vars: NamingVars;
  /** Only v2 StartEgress streams to a WebSocket (v1 has TrackEgress.websocket_url for that). */
  allowWebsocket: boolean;
  limits: Limits;
}

/** A uint32 count of seconds: 0 is the default, anything else at most `max` (2^32-1 s would be 136 years). */
export function seconds(value: number, max: number, fallback: number, field: string): number {
  if (value > max) throw invalidField(field, `must be at most ${max} s`);
  return value || fallback;
}
