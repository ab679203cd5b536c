/** Twirp error responses: `{code, msg, meta}`, Twirp's HTTP status, content-type exactly application/json. */
import type { FastifyReply } from 'fastify';
import { type EgressError, TWIRP_HTTP_STATUS, type TwirpCode } from '../../shared/errors.ts';

export interface TwirpErrorBody {
  code: TwirpCode;
  msg: string;
  meta?: Record<string, string>;
}

export function sendTwirpError(reply: FastifyReply, err: EgressError): FastifyReply {
  const body: TwirpErrorBody = { code: err.twirp, msg: err.message };
  if (Object.keys(err.meta).length) body.meta = err.meta;
  // HTTP clients and proxies read Retry-After; Twirp clients read meta.retry_after.
  if (err.meta.retry_after !== undefined) reply.header('retry-after', err.meta.retry_after);
  // A Buffer body keeps Fastify from appending "; charset=utf-8": the server SDK reads the error body
  // only when the content-type is exactly application/json.
  return reply
    .code(TWIRP_HTTP_STATUS[err.twirp])
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify(body)));
}
