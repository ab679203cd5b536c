/**
 * Reading back what landed in the storage emulators, one shape for all three (versitygw for S3,
 * fake-gcs-server for GCS, Azurite for Azure): an object's bytes, content type and size, and the keys
 * under a prefix. Plus a gate: a TCP proxy in front of a real server that either forwards or drops every
 * connection (accepted, then reset at once), to make a storage fail and come back on cue.
 */
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Azurite } from './azurite.ts';
import type { S3Server } from './s3-server.ts';

export interface StoredObject {
  bytes: Buffer;
  /** As the store reports it. */
  contentType: string;
  /** As the store reports it (not just bytes.length). */
  size: number;
}

export interface ObjectStoreView {
  /** The object at `key`, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Every key starting with `prefix`, sorted. */
  list(prefix?: string): Promise<string[]>;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export function s3View(server: S3Server, bucket = server.bucket): ObjectStoreView {
  return {
    async get(key) {
      try {
        const object = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { bytes: await readAll(object.Body as Readable), contentType: object.ContentType ?? '', size: Number(object.ContentLength) };
      } catch (err) {
        if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    async list(prefix = '') {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await server.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const item of page.Contents ?? []) keys.push(item.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
  };
}

/** fake-gcs-server through the GCS JSON API, as any client would read it. */
export function gcsView(endpoint: string, bucket: string): ObjectStoreView {
  const objectUrl = (key: string) => `${endpoint}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(key)}`;
  return {
    async get(key) {
      const meta = await fetch(objectUrl(key));
      if (meta.status === 404) return undefined;
      if (!meta.ok) throw new Error(`GCS metadata of ${key}: ${meta.status} ${await meta.text()}`);
      const { contentType, size } = (await meta.json()) as { contentType?: string; size?: string };
      const media = await fetch(`${objectUrl(key)}?alt=media`);
      if (!media.ok) throw new Error(`GCS download of ${key}: ${media.status}`);
      return { bytes: Buffer.from(await media.arrayBuffer()), contentType: contentType ?? '', size: Number(size) };
    },
    async list(prefix = '') {
      const keys: string[] = [];
      let token = '';
      do {
        const url = new URL(`${endpoint}/storage/v1/b/${encodeURIComponent(bucket)}/o`);
        url.searchParams.set('prefix', prefix);
        if (token) url.searchParams.set('pageToken', token);
        const res = await fetch(url);
        if (!res.ok) throw new Error(`GCS list ${prefix}: ${res.status} ${await res.text()}`);
        const page = (await res.json()) as { items?: { name: string }[]; nextPageToken?: string };
        for (const item of page.items ?? []) keys.push(item.name);
        token = page.nextPageToken ?? '';
      } while (token);
      return keys.sort();
    },
  };
}

export function azureContainer(azurite: Pick<Azurite, 'endpoint' | 'accountName' | 'accountKey'>, container: string) {
  return new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)).getContainerClient(
    container,
  );
}

export function azureView(azurite: Pick<Azurite, 'endpoint' | 'accountName' | 'accountKey'>, container: string): ObjectStoreView {
  const client = azureContainer(azurite, container);
  return {
    async get(key) {
      const blob = client.getBlobClient(key);
      if (!(await blob.exists())) return undefined;
      const response = await blob.download();
      return { bytes: await readAll(response.readableStreamBody!), contentType: response.contentType ?? '', size: Number(response.contentLength) };
    },
    async list(prefix = '') {
      const keys: string[] = [];
      for await (const item of client.listBlobsFlat({ prefix })) keys.push(item.name);
      return keys.sort();
    },
  };
}

export interface GateProxy {
  /** The proxy's loopback port; clients connect here instead of to the server. */
  port: number;
  /** Connections accepted while closed are reset at once (and so are those already open). */
  close(): void;
  /** Forward every new connection to the server. */
  open(): void;
  /** Connections the proxy dropped so far. */
  readonly dropped: number;
  /** Stops listening and ends every connection. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** A TCP proxy in front of a real server on `targetPort`; starts closed unless `open` is given. */
export async function startGateProxy(targetPort: number, options: { open?: boolean } = {}): Promise<GateProxy> {
  let open = options.open ?? false;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    if (!open) {
      dropped += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: HOST, port: targetPort });
    track(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) socket.once('close', end).on('error', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      open = false;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    open() {
      open = true;
    },
    get dropped() {
      return dropped;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
