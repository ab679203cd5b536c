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

/** The settings' LiveKit server, if the config names one (a ws_url always comes with its key pair: see loadConfig). */
export function liveKitCredentials(liveKit: LiveKitCredentials): LiveKitCredentials {
  if (!liveKit.wsUrl) throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'recording a room needs ws_url (the LiveKit server URL) in the config');
  return liveKit;
}

export async function recorderToken(credentials: LiveKitCredentials, room: string, egressId: string): Promise<string> {
  const token = new AccessToken(credentials.apiKey, credentials.apiSecret, { identity: egressId, name: egressId, ttl: TOKEN_TTL });
  token.kind = 'egress';
  token.addGrant({ room, roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false, hidden: true, recorder: true });
  return token.toJwt();
}
