/**
 * The test page (test/support/test-page.ts, on loopback) made reachable from the containers: a TCP forwarder
 * listening on the gateway address of the Compose project's own network, which only that network reaches.
 */
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Forwarder {
  /** http://<gateway>:<port>/ */
  url: string;
  close(): Promise<void>;
}

export async function forwardPage(pageUrl: string, listenHost: string): Promise<Forwarder> {
  const target = new URL(pageUrl);
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: target.hostname, port: Number(target.port) });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, listenHost, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${listenHost}:${port}/`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
