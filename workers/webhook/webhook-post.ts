/**
 * One POST of a webhook, over a connection url_policy checked (shared/guarded-agents.ts): Node's global
 * fetch takes no `lookup`, so this is http(s).request with a guarded agent. A fresh connection per delivery,
 * so every attempt is checked again. Redirects are not followed: a 3xx is the answer (LiveKit's sender, Go's
 * http.Client, follows them; here a redirect could lead a POST anywhere behind the check).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GuardedHttpAgent, GuardedHttpsAgent, type ConnectGuard } from '../../shared/guarded-agents.ts';

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** The HTTP status the receiver answered. Rejects with the socket's error (a url_policy refusal included). */
export async function postWebhook(post: WebhookPost, guard: ConnectGuard): Promise<number> {
  const target = new URL(post.url);
  const secure = target.protocol === 'https:';
  const agent = secure ? new GuardedHttpsAgent(guard) : new GuardedHttpAgent(guard);
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: 'POST',
          agent,
          // The URL's userinfo would become a Basic Authorization; the signature takes that header, as in livekit-server.
          headers: { ...post.headers, 'Content-Length': String(Buffer.byteLength(post.body)) },
          signal: AbortSignal.timeout(post.timeoutMs),
        },
        (res) => {
          // Only the status matters; the body is drained, not read.
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(post.body);
    });
  } finally {
    agent.destroy();
  }
}
