/** An HTTP endpoint that receives webhooks and checks them with livekit-server-sdk's WebhookReceiver. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';

export interface WebhookSink {
  url: string;
  /** Events that WebhookReceiver accepted, in arrival order. */
  events: WebhookEvent[];
  /** Deliveries that WebhookReceiver rejected, with its error. */
  rejected: string[];
  /** Answer the next `n` deliveries with HTTP 503 (to exercise retries). */
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function startWebhookSink(apiKey: string, apiSecret: string): Promise<WebhookSink> {
  const receiver = new WebhookReceiver(apiKey, apiSecret);
  const events: WebhookEvent[] = [];
  const rejected: string[] = [];
  let failures = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (failures > 0) {
        failures -= 1;
        res.writeHead(503).end();
        return;
      }
      receiver.receive(body, req.headers.authorization).then(
        (event) => {
          events.push(event);
          res.writeHead(200).end();
        },
        (err: Error) => {
          rejected.push(`${err.message} (content-type ${req.headers['content-type']})`);
          res.writeHead(401).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    events,
    rejected,
    failNext: (n) => (failures = n),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
