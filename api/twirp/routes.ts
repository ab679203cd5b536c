/**
 * The `livekit.Egress` Twirp service: POST /twirp/livekit.Egress/<Method>. An encapsulated Fastify plugin
 * with its own body parser (raw bytes, decoded per content-type) and error handler, so that whatever a
 * client sends it gets a Twirp error, never a 5xx from a parser.
 */
import type { AnyMessage, Message, MessageType } from '@bufbuild/protobuf';
import {
  ListEgressRequest,
  ParticipantEgressRequest,
  RoomCompositeEgressRequest,
  StartEgressRequest,
  StopEgressRequest,
  TrackCompositeEgressRequest,
  TrackEgressRequest,
  UpdateLayoutRequest,
  UpdateStreamRequest,
  WebEgressRequest,
} from '@livekit/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asEgressError, EgressError } from '../../shared/errors.ts';
import type { AuthThrottle } from '../../shared/auth-throttle.ts';
import { authenticate, presentsCredentials, tokenFrom, type Caller } from '../auth.ts';
import { settleAttempt } from '../failed-auth.ts';
import type { EgressService } from '../egress-service.ts';
import { startOptions } from './start-options.ts';
import { decode, encode, encodingOf } from './codec.ts';
import { checkStringLengths } from '../validate/string-lengths.ts';
import type { Limits } from '../../shared/limits.ts';
import { sendTwirpError } from './errors.ts';

export const TWIRP_PREFIX = '/twirp/livekit.Egress/';
const MAX_BODY_BYTES = 1024 * 1024;

interface Method<T extends Message<T>> {
  type: MessageType<T>;
  // Method syntax (bivariant in `request`): METHODS holds the methods of every request type as Method<AnyMessage>,
  // and each is only ever called with a message its own `type` decoded.
  handle(service: EgressService, request: T, caller: Caller, headers: FastifyRequest['headers']): Promise<Message>;
}

const method = <T extends Message<T>>(type: MessageType<T>, handle: Method<T>['handle']): Method<T> => ({ type, handle });
/** Only a Start RPC reads the Start options' headers: another RPC never fails on them. */
const start = <T extends Message<T>>(type: MessageType<T>) =>
  method(type, (s, r, caller, headers) => s.start(r as never, caller, startOptions(headers)));

/** Every RPC of livekit.Egress, by method name. A Map: the name comes from the URL (`constructor` is no RPC). */
export const METHODS: ReadonlyMap<string, Method<AnyMessage>> = new Map<string, Method<AnyMessage>>([
  ['StartRoomCompositeEgress', start(RoomCompositeEgressRequest)],
  ['StartWebEgress', start(WebEgressRequest)],
  ['StartParticipantEgress', start(ParticipantEgressRequest)],
  ['StartTrackCompositeEgress', start(TrackCompositeEgressRequest)],
  ['StartTrackEgress', start(TrackEgressRequest)],
  ['StartEgress', start(StartEgressRequest)],
  ['UpdateLayout', method(UpdateLayoutRequest, (s, r) => s.updateLayout(r))],
  ['UpdateStream', method(UpdateStreamRequest, (s, r) => s.updateStream(r))],
  ['ListEgress', method(ListEgressRequest, (s, r) => s.list(r))],
  ['StopEgress', method(StopEgressRequest, (s, r) => s.stop(r))],
]);

export interface TwirpOptions {
  service: EgressService;
  apiKeys: ReadonlyMap<string, string>;
  /** Failed authentications per client address; a throttled address gets resource_exhausted for every request. */
  throttle: AuthThrottle;
  /** Every string of every request is bounded by these (config limits) before a handler sees it. */
  limits: Limits;
}

/**
 * The caller, or unauthenticated / permission_denied, or resource_exhausted when the address is throttled by
 * the time the outcome is settled (shared/auth-throttle.ts). A request with no credential at all guesses nothing
 * and is not counted; a wrong one is; a right one without the grant is no failed authentication.
 */
async function authenticateSettled(request: FastifyRequest, options: TwirpOptions): Promise<Caller> {
  const token = tokenFrom(request.headers, request.query);
  if (!presentsCredentials(request.headers, request.query)) return authenticate(token, options.apiKeys);
  let outcome: { caller: Caller } | { err: unknown };
  try {
    outcome = { caller: await authenticate(token, options.apiKeys) };
  } catch (err) {
    outcome = { err };
  }
  const failed = 'err' in outcome && outcome.err instanceof EgressError && outcome.err.code === 'EGR_ERR_UNAUTHENTICATED';
  await settleAttempt(options.throttle, request, !failed);
  if ('err' in outcome) throw outcome.err;
  return outcome.caller;
}

export async function twirpRoutes(app: FastifyInstance, options: TwirpOptions): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof EgressError) return sendTwirpError(reply, err);
    // Fastify's own errors (body too large, bad content-length, …) are the client's: malformed.
    if (err.statusCode && err.statusCode < 500) return sendTwirpError(reply, new EgressError('EGR_ERR_MALFORMED', err.message));
    request.log.error({ err }, 'twirp handler failed');
    return sendTwirpError(reply, asEgressError(err));
  });

  // A throttled address gets nothing else, whatever it sends (shared/auth-throttle.ts). A request with a
  // credential is checked when its outcome is settled (one Redis call, atomic with the count), so only the
  // others need a look now.
  app.addHook('onRequest', async (request) => {
    if (!presentsCredentials(request.headers, request.query)) await options.throttle.check(request.ip);
  });

  app.post('/twirp/livekit.Egress/:method', async (request: FastifyRequest<{ Params: { method: string } }>, reply: FastifyReply) => {
    const rpc = METHODS.get(request.params.method);
    if (!rpc) throw new EgressError('EGR_ERR_BAD_ROUTE', `no handler for path "${request.url.split('?')[0]}"`);
    const encoding = encodingOf(request.headers['content-type']);
    const caller = await authenticateSettled(request, options);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const message = decode(rpc.type, body, encoding);
    checkStringLengths(message, options.limits);
    const response = await rpc.handle(options.service, message, caller, request.headers);
    const { contentType, body: out } = encode(response, encoding);
    return reply.header('content-type', contentType).send(out);
  });

  app.all('/twirp/*', async (request) => {
    throw new EgressError('EGR_ERR_BAD_ROUTE', `no handler for ${request.method} "${request.url.split('?')[0]}" (Twirp takes POST)`);
  });
}
