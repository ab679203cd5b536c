/**
 * No credential from a request URL in the logs: the API listens on 127.0.0.1 with its logger at trace level (the
 * chattiest), captured line by line, while requests carry `access_token` (good and bad), a recorder's room
 * `token` on the templates, and a malformed request whose raw bytes Node hands to the error log. The lines must
 * show the requests (so the test sees what it claims to) and none of the secrets.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildServer } from '../../api/server.ts';
import { loadConfig } from '../../shared/config/load.ts';
import { createServiceContext, type ServiceContext } from '../../shared/context.ts';
import { REDACTED_LOG_PATHS } from '../../shared/logger.ts';
import { startRedis, type RedisServer } from '../support/redis-server.ts';
import { jwt, recordPayload } from './auth-tokens.ts';

const KEY = 'log-test-key';
const SECRET = 'log-test-secret-0123456789abcdef';

describe('request URLs are logged without their query values', () => {
  let redis: RedisServer;
  let ctx: ServiceContext;
  let app: FastifyInstance;
  let url: string;
  const lines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });

  const good = jwt({ payload: recordPayload(KEY), secret: SECRET });
  const bad = jwt({ payload: recordPayload(KEY), secret: 'a-wrong-guess-4711' });
  const roomToken = jwt({ payload: { iss: 'lk', video: { roomJoin: true, room: 'r' } }, secret: 'room-secret-0815' });
  const planted = ['SECRET-IN-404-QUERY', 'SECRET-IN-BOARD-QUERY', 'SECRET-IN-RAW-PACKET', 'SECRET-IN-ERROR-MESSAGE', 'SECRET-BARE-PARAM'];

  before(async () => {
    redis = await startRedis();
    const config = loadConfig({ env: { REDIS_URL: redis.url, LIVEKIT_API_KEY: KEY, LIVEKIT_API_SECRET: SECRET, EGRESS_LOG_LEVEL: 'trace' } });
    ctx = createServiceContext(config, pino({ level: 'trace', redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } }, capture), 'test');
    app = await buildServer(ctx);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app?.close();
    await ctx?.close();
    await redis?.stop();
  });

  test('access_token, template tokens and raw request bytes never reach a log line, at trace level', async () => {
    const post = (path: string) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal((await post(`/twirp/livekit.Egress/ListEgress?access_token=${good}`)).status, 200);
    assert.equal((await post(`/twirp/livekit.Egress/ListEgress?access_token=${bad}`)).status, 401);
    assert.equal((await post(`/twirp/livekit.Egress/constructor?access_token=${good}`)).status, 404);
    assert.equal((await post(`/twirp/livekit.Egress/ListEgress?${planted[4]}`)).status, 401);
    const notFound = await fetch(`${url}/nowhere?access_token=${planted[0]}`);
    assert.equal(notFound.status, 404);
    assert.ok(!(await notFound.text()).includes(planted[0]!), 'the 404 answer does not echo it either');
    assert.equal((await fetch(`${url}/admin/queues?access_token=${planted[1]}`)).status, 401);
    const template = await fetch(`${url}/templates/?url=${encodeURIComponent('ws://127.0.0.1:7880')}&token=${roomToken}&layout=grid`);
    assert.equal(template.status, 200);
    await template.arrayBuffer();

    // A request line followed by a broken header: Node's parser fails and passes the raw bytes with the error.
    const socket = connect({ host: '127.0.0.1', port: new URL(url).port ? Number(new URL(url).port) : 80 });
    await once(socket, 'connect');
    socket.end(`GET /twirp/livekit.Egress/ListEgress?access_token=${planted[2]} HTTP/1.1\r\nHost: 127.0.0.1\r\nbroken header line\r\n\r\n`);
    let answer = '';
    for await (const chunk of socket) answer += chunk.toString();
    assert.match(answer, /^HTTP\/1\.1 400/);

    app.log.error({ err: new Error(`upstream refused /twirp/x?access_token=${planted[3]}&other=1`) }, 'something failed');
    await new Promise((resolve) => setImmediate(resolve));

    const text = lines.join('\n');
    // The requests were logged, or this test would prove nothing.
    assert.match(text, /"url":"\/twirp\/livekit\.Egress\/ListEgress\?access_token=\[redacted\]"/);
    assert.match(text, /"url":"\/templates\/\?url=\[redacted\]&token=\[redacted\]&layout=\[redacted\]"/);
    assert.match(text, /Route GET:\/nowhere\?access_token=\[redacted\] not found/);
    assert.match(text, /"url":"\/admin\/queues\?access_token=\[redacted\]"/);
    assert.match(text, /client error/);
    assert.match(text, /"rawPacket":"\[\d+ bytes\]"/);
    assert.match(text, /upstream refused \/twirp\/x\?access_token=\[redacted\]&other=\[redacted\]/);
    for (const secret of [good, bad, good.split('.')[2]!, bad.split('.')[2]!, roomToken, roomToken.split('.')[2]!, SECRET, ...planted]) {
      const line = lines.find((l) => l.includes(secret));
      assert.equal(line, undefined, `a log line holds ${secret.slice(0, 24)}…: ${line}`);
    }
  });
});
