/**
 * UpdateLayout, as LiveKit does it: the recorder participant's metadata becomes `{"layout": …}`, which the
 * template (ours, or any written with @livekit/egress-sdk) applies live. Through the LiveKit server API
 * (RoomService.UpdateParticipant) with the service's key pair.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import type { Config } from '../shared/config/schema.ts';

export async function pushLayout(
  config: Pick<Config, 'ws_url' | 'api_key' | 'api_secret'>,
  roomName: string,
  egressId: string,
  layout: string,
): Promise<void> {
  if (!config.ws_url || !config.api_key || !config.api_secret) return;
  const rooms = new RoomServiceClient(config.ws_url.replace(/^ws/, 'http'), config.api_key, config.api_secret);
  await rooms.updateParticipant(roomName, egressId, { metadata: JSON.stringify({ layout }) });
}
