/**
 * The fixture of every room-based end-to-end test: a real LiveKit server with the service's key pair, the
 * whole egress service pointed at it, an EgressClient, and test publishers that are all sent away at the end.
 */
import { dispose } from '@livekit/rtc-node';
import { EgressClient, RoomServiceClient } from 'livekit-server-sdk';
import { startLiveKitServer, type LiveKitServer, type LiveKitServerOptions } from './livekit-server.ts';
import { startPublisher, type PublisherOptions, type TestPublisher } from './publisher.ts';
import { E2E_API_KEY, E2E_API_SECRET, startService, type TestService } from './service.ts';

export interface RoomService {
  livekit: LiveKitServer;
  service: TestService;
  client: EgressClient;
  /** A publisher in this server, left at stop() unless it left already. */
  publish(options: Omit<PublisherOptions, 'url' | 'apiKey' | 'apiSecret'>): Promise<TestPublisher>;
  /** The sid the LiveKit server gave the room (LiveKit's room_id); '' when there is no such room now. */
  roomSid(room: string): Promise<string>;
  stop(): Promise<void>;
}

/** `yaml` goes to startService; rooms close a few seconds after their last participant leaves, unless `rooms` says otherwise. */
export async function startRoomService(
  yaml: Record<string, unknown> = {},
  rooms: Pick<LiveKitServerOptions, 'emptyTimeoutSec' | 'departureTimeoutSec'> = {},
): Promise<RoomService> {
  const livekit = await startLiveKitServer({ apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, departureTimeoutSec: 1, emptyTimeoutSec: 5, ...rooms });
  const service = await startService({ ws_url: livekit.url, ...yaml });
  const publishers: TestPublisher[] = [];
  return {
    livekit,
    service,
    client: new EgressClient(service.url, E2E_API_KEY, E2E_API_SECRET),
    async publish(options) {
      const publisher = await startPublisher({ url: livekit.url, apiKey: E2E_API_KEY, apiSecret: E2E_API_SECRET, ...options });
      publishers.push(publisher);
      return publisher;
    },
    async roomSid(room) {
      const [found] = await new RoomServiceClient(livekit.httpUrl, E2E_API_KEY, E2E_API_SECRET).listRooms([room]);
      return found?.sid ?? '';
    },
    async stop() {
      await Promise.all(publishers.map((p) => p.leave().catch(() => undefined)));
      await dispose();
      await service.stop();
      await livekit.stop();
    },
  };
}
