/**
 * S3 and S3-compatible storage (AWS, MinIO, versitygw, R2, …), as LiveKit's S3 uploader: multipart for
 * files, a retrying client (max_retries attempts, backoff capped at max_retry_delay), Content-Disposition
 * `inline` unless told otherwise, metadata and tagging applied, the location in LiveKit's format.
 */
import { createReadStream } from 'node:fs';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { exponentialBackoff } from '../../shared/backoff.ts';
import { EgressError } from '../../shared/errors.ts';
import { GuardedForwardProxyAgent, GuardedHttpAgent, GuardedHttpsAgent, GuardedTunnelAgent, policyRefusal } from '../../shared/guarded-agents.ts';
import { redactText } from '../../shared/redact.ts';
import { normalizedS3Endpoint } from '../../shared/request-storage.ts';
import type { UrlPolicy } from '../../shared/url-policy.ts';
import type { StorageBackend, UploadFileOptions, Uploaded } from './backend.ts';

export interface S3ProxyOptions {
  /** http://host:port (an HTTP proxy; https endpoints are tunnelled with CONNECT). */
  url: string;
  username?: string;
  password?: string;
}

/** LiveKit's S3Upload plus the service's retry settings. Empty strings count as unset. */
export interface S3Options {
  accessKey?: string;
  secret?: string;
  sessionToken?: string;
  /** Empty with no endpoint: us-east-1, and the SDK follows the bucket's region redirect. */
  region?: string;
  /** An S3-compatible endpoint, e.g. https://minio.local:9000; empty for AWS. */
  endpoint?: string;
  bucket: string;
  forcePathStyle?: boolean;
  metadata?: Record<string, string>;
  /** URL-encoded `k1=v1&k2=v2`, as S3's x-amz-tagging header. */
  tagging?: string;
  /** Default `inline`. */
  contentDisposition?: string;
  proxy?: S3ProxyOptions;
  /** LiveKit assumes this role via STS; not supported here yet (rejected, so it never silently uploads as someone else). */
  assumeRoleArn?: string;
  assumeRoleExternalId?: string;
  /** Attempts per request, LiveKit's max_retries (default 5). */
  maxRetries?: number;
  /** Cap on the exponential backoff between attempts (default 5000 ms). */
  maxRetryDelayMs?: number;
  /** First backoff step (default 100 ms, LiveKit's min_retry_delay). */
  minRetryDelayMs?: number;
  /** A request whose socket sees no traffic for this long fails and is retried (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** TCP connect timeout (default 10 000 ms). */
  connectionTimeoutMs?: number;
  /** Called before each retry of a request (for logs and metrics); `attempt` counts from 1. */
  onRetry?: (attempt: number, delayMs: number) => void;
  /**
   * A request's own config: its endpoint (or its proxy, which is then all this client connects to) is
   * connected to only where url_policy allows, checked on every connection. Unset: the operator's config.
   */
  policy?: UrlPolicy;
}

export const S3_DEFAULTS = {
  maxRetries: 5,
  maxRetryDelayMs: 5000,
  minRetryDelayMs: 100,
  idleTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  contentDisposition: 'inline',
  queueSize: 4,
} as const;

const MiB = 1024 * 1024;
export const MIN_PART_BYTES = 5 * MiB;
export const MAX_PARTS = 10_000;
/** SigV4's ceiling for a presigned URL's life: 7 days. */
const MAX_PRESIGN_SEC = 7 * 24 * 3600;
/** S3's ceiling for one part. */
const MAX_PART_BYTES = 5 * 1024 * MiB;

/**
 * The multipart chunk for a file of `sizeBytes`: at least 5 MiB, and large enough that the whole file fits
 * in 10 000 parts, with 10 % headroom in case the file is a little bigger than announced; whole MiB.
 */
export function partSizeFor(sizeBytes: number): number {
  const needed = Math.ceil((Math.max(0, sizeBytes) * 1.1) / MAX_PARTS);
  const rounded = Math.ceil(needed / MiB) * MiB;
  return Math.min(MAX_PART_BYTES, Math.max(MIN_PART_BYTES, rounded));
}

/** LiveKit's location: virtual-hosted `https://<bucket>.<endpoint host|s3.amazonaws.com>/<key>`, or path-style `<endpoint>/<bucket>/<key>`. */
export function s3Location(options: Pick<S3Options, 'endpoint' | 'bucket' | 'forcePathStyle'>, key: string): string {
  const endpoint = normalizedS3Endpoint(options.endpoint);
  if (options.forcePathStyle) return `${endpoint ?? 'https://s3.amazonaws.com'}/${options.bucket}/${key}`;
  const host = endpoint === undefined ? 's3.amazonaws.com' : new URL(endpoint).host;
  return `https://${options.bucket}.${host}/${key}`;
}

export function createS3Backend(options: S3Options): StorageBackend {
  if (!options.bucket) throw new EgressError('EGR_ERR_UPLOAD_FAILED', 'S3 upload failed: no bucket configured');
  if (options.assumeRoleArn) {
    // TODO: STS AssumeRole (with external id) through @aws-sdk/credential-providers' fromTemporaryCredentials.
    throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'S3 assume_role_arn is not supported by this version yet');
  }
  const client = new S3Client(clientConfig(options));
  const secrets = [options.accessKey, options.secret, options.sessionToken, options.proxy?.password].filter((s): s is string => !!s && s.length >= 4);
  const fail = (err: unknown): never => {
    throw new EgressError('EGR_ERR_UPLOAD_FAILED', redactText(`S3 upload failed: ${describe(err)}`, { secrets }), { cause: err });
  };
  const common = () => ({
    Bucket: options.bucket,
    ContentDisposition: options.contentDisposition || S3_DEFAULTS.contentDisposition,
    ...(options.metadata && Object.keys(options.metadata).length > 0 ? { Metadata: options.metadata } : {}),
    ...(options.tagging ? { Tagging: options.tagging } : {}),
  });

  return {
    name: 'S3',
    async uploadFile(localPath: string, key: string, upload: UploadFileOptions): Promise<Uploaded> {
      const { contentType, sizeBytes, onProgress, signal } = upload;
      signal?.throwIfAborted();
      const body = createReadStream(localPath);
      const job = new Upload({
        client,
        params: { ...common(), Key: key, Body: body, ContentType: contentType },
        partSize: partSizeFor(sizeBytes),
        queueSize: S3_DEFAULTS.queueSize,
        leavePartsOnError: false,
      });
      let reported = 0;
      job.on('httpUploadProgress', (event) => {
        const loaded = event.loaded ?? 0;
        if (loaded <= reported) return;
        reported = loaded;
        onProgress?.(loaded, Math.max(event.total ?? sizeBytes, loaded));
      });
      const onAbort = () => void job.abort().catch(() => undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await job.done();
      } catch (err) {
        if (signal?.aborted) throw new EgressError('EGR_ERR_UPLOAD_FAILED', 'S3 upload failed: aborted', { cause: signal.reason });
        fail(err);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        body.destroy();
      }
      const total = Math.max(reported, body.bytesRead, sizeBytes);
      if (reported < total) onProgress?.(total, total);
      return { location: s3Location(options, key) };
    },

    async uploadText(text: string, key: string, contentType: string): Promise<Uploaded> {
      try {
        await client.send(new PutObjectCommand({ ...common(), Key: key, Body: text, ContentType: contentType }));
      } catch (err) {
        fail(err);
      }
      return { location: s3Location(options, key) };
    },

    /** A SigV4 query-string URL for a GET, signed with the client's credentials for the host the client addresses. */
    async presign(key: string, expiresInSec: number): Promise<string> {
      return getSignedUrl(client, new GetObjectCommand({ Bucket: options.bucket, Key: key }), { expiresIn: Math.min(expiresInSec, MAX_PRESIGN_SEC) });
    },
  };
}

function clientConfig(options: S3Options): S3ClientConfig {
  const maxAttempts = Math.max(1, options.maxRetries || S3_DEFAULTS.maxRetries);
  const retryDelay = exponentialBackoff(
    options.minRetryDelayMs ?? S3_DEFAULTS.minRetryDelayMs,
    options.maxRetryDelayMs ?? S3_DEFAULTS.maxRetryDelayMs,
  );
  const endpoint = normalizedS3Endpoint(options.endpoint);
  const config: S3ClientConfig = {
    region: options.region || 'us-east-1',
    forcePathStyle: !!options.forcePathStyle,
    followRegionRedirects: !options.region && endpoint === undefined,
    retryStrategy: new ConfiguredRetryStrategy(maxAttempts, (attempt) => {
      const delay = retryDelay(attempt);
      options.onRetry?.(attempt, delay);
      return delay;
    }),
    // S3-compatible servers vary in their support of the newer default CRC checksums; send them only when required.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      // An idle timeout, not a total one: a big part on a slow link may take long, but never silently.
      socketTimeout: options.idleTimeoutMs ?? S3_DEFAULTS.idleTimeoutMs,
      connectionTimeout: options.connectionTimeoutMs ?? S3_DEFAULTS.connectionTimeoutMs,
      ...(options.policy ? guardedAgents(options, options.policy) : proxyAgents(options.proxy)),
    },
  };
  if (endpoint !== undefined) config.endpoint = endpoint;
  // Empty access key: the default chain (environment, shared config, IMDS / IRSA), as LiveKit.
  if (options.accessKey) {
    config.credentials = {
      accessKeyId: options.accessKey,
      secretAccessKey: options.secret ?? '',
      ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
    };
  }
  return config;
}

/**
 * HTTP(S) agents going through the operator's proxy, on every Node the engines allow: https endpoints through
 * https-proxy-agent's CONNECT tunnel; http endpoints as absolute-form requests (shared/guarded-agents.ts,
 * unguarded), since https-proxy-agent tunnels those too and many proxies allow CONNECT to port 443 only.
 * Credentials travel in the proxy URL.
 */
function proxyAgents(proxy: S3ProxyOptions | undefined): { httpAgent?: HttpAgent; httpsAgent?: HttpsAgent } {
  if (!proxy?.url) return {};
  const href = proxyHref(proxy);
  return {
    httpAgent: new GuardedForwardProxyAgent(href, undefined, { keepAlive: true }),
    httpsAgent: new HttpsProxyAgent(href, { keepAlive: true }) as HttpAgent as HttpsAgent,
  };
}

/** The proxy URL with its credentials in it, as proxies take them. */
function proxyHref(proxy: S3ProxyOptions): string {
  const url = new URL(proxy.url);
  if (proxy.username) {
    url.username = proxy.username;
    url.password = proxy.password ?? '';
  }
  return url.href;
}

/**
 * Agents for a request's own config: through its proxy, the proxy is checked (`s3.proxy.url`); else its
 * endpoint, on every host the client connects to (`s3.endpoint`, a virtual-hosted bucket name included).
 * Without either, the client goes to AWS's own names, which are not the request's to choose.
 */
function guardedAgents(options: S3Options, policy: UrlPolicy): { httpAgent?: HttpAgent; httpsAgent?: HttpsAgent } {
  if (options.proxy?.url) {
    const guard = { field: 's3.proxy.url', policy };
    const href = proxyHref(options.proxy);
    return {
      httpAgent: new GuardedForwardProxyAgent(href, guard, { keepAlive: true }),
      httpsAgent: new GuardedTunnelAgent(href, guard, { keepAlive: true }),
    };
  }
  if (!normalizedS3Endpoint(options.endpoint)) return {};
  const guard = { field: 's3.endpoint', policy };
  return { httpAgent: new GuardedHttpAgent(guard, { keepAlive: true }), httpsAgent: new GuardedHttpsAgent(guard, { keepAlive: true }) };
}

function describe(err: unknown): string {
  const refusal = policyRefusal(err);
  if (refusal) return `refused by url_policy: ${refusal.message}`;
  if (err instanceof Error) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const code = (err as { code?: string }).code;
    const parts = [err.name !== 'Error' ? err.name : '', code && code !== err.name ? code : '', err.message, status ? `(HTTP ${status})` : ''];
    return parts.filter(Boolean).join(': ').replace(': (HTTP', ' (HTTP');
  }
  return String(err);
}
