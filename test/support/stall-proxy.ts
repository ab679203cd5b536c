/**
 * A TCP proxy in front of a real server that can be told to stop forwarding: it then stops reading
 * from its clients, so their data backs up in the kernel's socket buffers and their writes block —
 * what a publisher sees when an ingest server or the path to it hangs. Connections accepted while
 * stalled are held the same way. `resume()` forwards everything held back and carries on. `drop()` cuts every
 * connection through it at once (a network blip): new ones are accepted and forwarded as before.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

const HOST = '127.0.0.1';

export interface StallProxy {
  /** The proxy's loopback port; clients connect here instead of to the server. */
  port: number;
  stall(): void;
  resume(): void;
  /** Cuts every open connection (both sides see it closed); later connections go through. */
  drop(): void;
  /** Closes the proxy and every connection through it. */
  close(): Promise<void>;
}

export async function startStallProxy(targetPort: number): Promise<StallProxy> {
  let stalled = false;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const forward = ({ client, upstream }: { client: Socket; upstream: Socket }) => {
    if (stalled) {
      client.unpipe(upstream);
      client.pause();
    } else {
      client.pipe(upstream);
    }
  };

  const server = createServer((client) => {
    const pair = { client, upstream: createConnection({ host: HOST, port: targetPort }) };
    pairs.add(pair);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream.destroy();
    };
    for (const socket of [client, pair.upstream]) socket.once('close', close).on('error', close);
    // Only the client → server direction stalls; the server's answers always get through.
    pair.upstream.pipe(client);
    forward(pair);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));

  const dropAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
  };
  const setStalled = (value: boolean) => {
    stalled = value;
    for (const pair of pairs) forward(pair);
  };
  return {
    port: (server.address() as AddressInfo).port,
    stall: () => setStalled(true),
    resume: () => setStalled(false),
    drop: dropAll,
    close: () =>
      new Promise((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
