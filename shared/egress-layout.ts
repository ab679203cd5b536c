/**
 * The layout an egress records its room with, as its stored request holds it: a room composite's `layout`, or
 * the template source's `layout` of a v2 StartEgress. Those are the egresses that have layouts (a template in
 * Chromium); UpdateLayout changes it, and a recorder that starts later opens the template with it.
 */
import type { EgressInfo } from '@livekit/protocol';

/** The stored layout; undefined when the egress has none (web, participant, track, v2 web or media source). */
export function layoutOf(info: EgressInfo): string | undefined {
  const { request } = info;
  if (request.case === 'roomComposite') return request.value.layout;
  if (request.case === 'egress' && request.value.source.case === 'template') return request.value.source.value.layout;
  return undefined;
}

/** Stores `layout` as the egress's layout; false when the egress has no layout to change. */
export function setLayout(info: EgressInfo, layout: string): boolean {
  const { request } = info;
  if (request.case === 'roomComposite') request.value.layout = layout;
  else if (request.case === 'egress' && request.value.source.case === 'template') request.value.source.value.layout = layout;
  else return false;
  return true;
}
