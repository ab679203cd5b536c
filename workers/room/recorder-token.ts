/**
 * The token a recorder joins a room with, as LiveKit's egress makes it (protocol `egress/token.go`): identity
 * = the egress id, participant kind `egress`, may join and subscribe, may not publish, hidden from the other
 * participants, flagged as a recorder; valid 24 h. Signed with the service's LiveKit key pair.
 */
import { AccessToken } from 'livekit-server-sdk';
import { EgressError } from '../../shared/errors.ts';

export interface LiveKitCredentials {
  /** ws(s):// URL of the LiveKit server (config ws_url). */
  wsUrl: string;
  apiKey: string;
  apiSecret: string;
}

const TOKEN_TTL = '24h';

export function liveKitCredentials(config: { ws_url: string; api_key: string; api_secret: string }): LiveKitCredentials {
  if (!config.ws_url) throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'recording a room needs ws_url (the LiveKit server URL) in the config');
  if (!config.api_key || !config.api_secret) throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'recording a room needs api_key and api_secret (the LiveKit server key pair)');
  return { wsUrl: config.ws_url, apiKey: config.api_key, apiSecret: config.api_secret };
}

export async function recorderToken(credentials: LiveKitCredentials, room: string, egressId: string): Promise<string> {
  const token = new AccessToken(credentials.apiKey, credentials.apiSecret, { identity: egressId, name: egressId, ttl: TOKEN_TTL });
  token.kind = 'egress';
  token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false, hidden: true, recorder: true });
  return token.toJwt();
}
