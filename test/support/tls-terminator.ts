/**
 * A TLS front for a plain TCP server on loopback (RTMPS in front of nginx-rtmp), with a throwaway
 * certificate made by openssl for the names asked for. It records the SNI name of every connection.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsTerminator {
  port: number;
  /** The certificate (PEM), to trust it. */
  cert: string;
  /** The SNI name each connection gave (undefined: none), in order. */
  serverNames: (string | undefined)[];
  close(): Promise<void>;
}

/** A self-signed certificate for `dnsName`. */
async function certificateFor(dnsName: string): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tls-terminator-'));
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      `/CN=${dnsName}`,
      '-addext',
      `subjectAltName=DNS:${dnsName}`,
    ]);
    return { key: await readFile(join(dir, 'key.pem'), 'utf8'), cert: await readFile(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function startTlsTerminator(targetPort: number, dnsName: string, host = '127.0.0.1'): Promise<TlsTerminator> {
  const { key, cert } = await certificateFor(dnsName);
  const serverNames: (string | undefined)[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createServer({ key, cert }, (client) => {
    serverNames.push(client.servername || undefined);
    sockets.add(client);
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const close = () => {
      sockets.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.once('close', close).on('error', close);
    client.pipe(upstream).pipe(client);
  });
  // A refused handshake (our client distrusting the certificate) is the client's business.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cert,
    serverNames,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
