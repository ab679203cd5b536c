/**
 * Google Cloud Storage back-end: resumable uploads with @google-cloud/storage, as LiveKit's GCP uploader does
 * (resumable writer, retry always, backoff ×2 capped at 5 s, 5 attempts).
 *
 * Files go up in 16 MiB chunks (one HTTP request per chunk), so an interrupted request is resumed from the
 * offset the server acknowledged instead of starting over. Each request has a time limit (a stalled server
 * is noticed and retried). Location: `https://<bucket>.storage.googleapis.com/<key>` (LiveKit's form); with a
 * custom `apiEndpoint` (an emulator, a sovereign cloud), `<apiEndpoint>/<bucket>/<key>` (path style, the
 * form every GCS-compatible endpoint serves objects under).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Agent } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Storage, type File } from '@google-cloud/storage';
import { EgressError } from '../../shared/errors.ts';
import { GuardedForwardProxyAgent, GuardedTunnelAgent, policyRefusal } from '../../shared/guarded-agents.ts';
import { REDACTED, redactText, type TextRedaction } from '../../shared/redact.ts';
import { policyLookup, resolveForConnect, type UrlPolicy } from '../../shared/url-policy.ts';
import type { StorageBackend } from './backend.ts';
import { statusOf, withRetries, type RetryableError } from './gcs-retry.ts';

export interface GcsBackendOptions {
  /** Service-account JSON (GCPUpload.credentials); empty: none (emulators) or application-default credentials. */
  credentials: string;
  bucket: string;
  /** From the service config: an emulator or sovereign-cloud endpoint (`http://127.0.0.1:4443`, `https://storage.example`). */
  apiEndpoint?: string;
  /** Proxy URL (ProxyConfig.url, user and password already embedded if any). */
  proxy?: string;
  /**
   * A request's own config: its proxy is connected to only where url_policy allows (`gcp.proxy.url`),
   * checked on every connection. The storage host itself is the operator's (`storage.gcp.endpoint`) or
   * Google's. Unset: the operator's config.
   */
  policy?: UrlPolicy;
  /** Time limit of one HTTP request (a 16 MiB chunk) before it is abandoned and retried; default 60 s. */
  requestTimeoutMs?: number;
  /** Upload chunk size; a multiple of 256 KiB; default 16 MiB (the Go client's default). */
  chunkSizeBytes?: number;
  /** Called before each retry (logging, tests): the failed attempt's number (1-based) and its error. */
  onRetry?: (failedAttempt: number, error: unknown) => void;
}

const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export function createGcsBackend(options: GcsBackendOptions): StorageBackend {
  const endpoint = options.apiEndpoint ? options.apiEndpoint.replace(/\/+$/, '') : undefined;
  const guard = options.proxy && options.policy ? proxyGuard(options.proxy, options.policy) : undefined;
  const bucket = gcsClient(options, endpoint, guard).bucket(options.bucket);
  const chunkSize = options.chunkSizeBytes ?? DEFAULT_CHUNK_BYTES;
  const locationOf = (key: string) => gcsLocation(options.bucket, key, endpoint);

  return {
    name: 'GCP',
    async uploadFile(localPath, key, { contentType, onProgress, signal }) {
      try {
        signal?.throwIfAborted();
        await guard?.check();
        const size = (await stat(localPath)).size;
        const file = bucket.file(key);
        const progress = progressReport(size, onProgress);
        await resumableUpload(file, localPath, {
          size,
          contentType,
          chunkSize,
          signal,
          progress,
          ...(options.onRetry ? { onRetry: options.onRetry } : {}),
        });
        // The SDK sends the type as X-Upload-Content-Type, which some GCS-compatible endpoints (fake-gcs-server)
        // ignore; the finished upload's response says what was stored, so this costs nothing on real GCS.
        if (file.metadata.contentType !== undefined && file.metadata.contentType !== contentType) {
          await withRetries(
            () => file.setMetadata({ contentType }),
            signal,
            () => false,
          );
        }
        progress.report(size);
        if (size === 0) onProgress?.(0, 0);
        return { location: locationOf(key) };
      } catch (err) {
        throw uploadFailed(err, signal);
      }
    },

    async uploadText(text, key, contentType) {
      try {
        await guard?.check();
        await withRetries(
          () => bucket.file(key).save(text, { resumable: false, contentType, metadata: { contentType }, validation: false }),
          undefined,
          () => false,
        );
        return { location: locationOf(key) };
      } catch (err) {
        throw uploadFailed(err);
      }
    },

    // Signing needs a service account's private key: without credentials (an emulator, application-default
    // credentials of a user) the SDK refuses, and the caller keeps the plain location.
    async presign(key, expiresInSec) {
      const [url] = await bucket.file(key).getSignedUrl({ version: 'v4', action: 'read', expires: Date.now() + expiresInSec * 1000 });
      return url;
    },
  };
}

/**
 * The storage client. The SDK's own retries are off: its in-request retry of a chunk can lose track of the
 * bytes it already consumed ("The offset is lower than the number of bytes written"). Each attempt is one SDK
 * call (withRetries); a failed upload attempt is resumed from the offset the server acknowledged (same session
 * URI). Every request (resumable session, chunks, status checks, simple uploads) gets the time limit and proxy.
 */
function gcsClient(options: GcsBackendOptions, endpoint: string | undefined, guard: ProxyGuard | undefined): Storage {
  const storage = new Storage({
    ...gcsCredentials(options.credentials, endpoint !== undefined),
    ...(endpoint ? { apiEndpoint: endpoint } : {}),
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  storage.interceptors.push({
    request: (reqOpts) => {
      const extra: Record<string, unknown> = { timeout, ...(guard?.requestOptions ?? {}) };
      if (options.proxy) extra.proxy = options.proxy;
      // The SDK types the interceptor's result as its own request type; it is passed on to gaxios as is.
      return Object.assign(reqOpts, extra) as never;
    },
  });
  return storage;
}

/** The client's credentials: a service account's JSON; none for an emulator; else application-default credentials. */
export function gcsCredentials(credentials: string, customEndpoint: boolean): ConstructorParameters<typeof Storage>[0] {
  if (credentials.trim() !== '') {
    let parsed: { project_id?: string; client_email?: string; private_key?: string };
    try {
      parsed = JSON.parse(credentials) as typeof parsed;
    } catch {
      throw new EgressError('EGR_ERR_UPLOAD_FAILED', 'GCP upload failed: credentials are not valid JSON');
    }
    return { credentials: parsed, ...(parsed.project_id ? { projectId: parsed.project_id } : {}) };
  }
  // Emulators take no credentials; a real endpoint falls back to application-default credentials.
  return customEndpoint ? { projectId: 'egress-queue' } : {};
}

/** Progress of one file's upload: reported only forward, and whether the upload moved since last asked. */
export interface ProgressReport {
  report(sent: number): void;
  /** The upload moved forward since the last call (a failed attempt that did resets the failure count). */
  advanced(): boolean;
}

export function progressReport(size: number, onProgress: ((sent: number, total: number) => void) | undefined): ProgressReport {
  let reported = 0;
  let last = 0;
  return {
    report(sent) {
      if (sent <= reported) return;
      reported = sent;
      onProgress?.(sent, size);
    },
    advanced() {
      const moved = reported > last;
      last = reported;
      return moved;
    },
  };
}

/**
 * A file through a resumable session, retried. The first attempt opens the session; a retry resumes it (with
 * `uri`, the SDK asks the server for its offset and skips the bytes it already has); a session the server no
 * longer knows (404, 410: expired, or already finalized) is started over. Attempts count failures in a row: an
 * attempt that moved the upload forward resets the count.
 */
async function resumableUpload(
  file: File,
  localPath: string,
  how: {
    size: number;
    contentType: string;
    chunkSize: number;
    signal: AbortSignal | undefined;
    progress: ProgressReport;
    onRetry?: GcsBackendOptions['onRetry'];
  },
): Promise<void> {
  const { size, contentType, chunkSize, signal, progress } = how;
  let uri: string | undefined;
  await withRetries(
    async () => {
      const resuming = uri !== undefined;
      // validation: false: the SDK hashes the bytes it streams, which a resumed attempt starts mid-file.
      const upload = file.createWriteStream({ resumable: true, contentType, chunkSize, validation: false, ...(uri ? { uri } : {}) });
      upload.on('uri', (created: string) => (uri = created));
      upload.on('progress', (event: { bytesWritten?: number }) => progress.report(Math.min(event.bytesWritten ?? 0, size)));
      try {
        await pipeline(createReadStream(localPath), upload, signal ? { signal } : {});
      } catch (err) {
        if (resuming && [404, 410].includes(statusOf(err as RetryableError) ?? 0)) {
          uri = undefined;
          throw Object.assign(new Error('resumable upload session lost; starting over', { cause: err }), { code: 'SESSION_LOST' });
        }
        throw err;
      }
    },
    signal,
    () => progress.advanced(),
    how.onRetry,
  );
}

/** What a request's proxy adds to every request, and the check run before every upload. */
interface ProxyGuard {
  requestOptions: Record<string, unknown>;
  check(): Promise<void>;
}

/**
 * A request's proxy, connected to only where url_policy allows (`gcp.proxy.url`). The client sends through
 * one of two HTTP stacks and every request carries what each needs: gaxios (authenticated requests) takes an
 * `agent`, here the guarded proxy agents; teeny-request (unauthenticated, a custom endpoint) builds its own
 * proxy agent from `proxy` and hands `pool` to its socket, here a `lookup` that checks every name it
 * connects to. A lookup is not asked about an IP literal: `check()`, run before every upload, refuses a
 * denied literal (which cannot change) and any denied name up front.
 */
function proxyGuard(proxy: string, policy: UrlPolicy): ProxyGuard {
  const guard = { field: 'gcp.proxy.url', policy };
  const forward = new GuardedForwardProxyAgent(proxy, guard, { keepAlive: true });
  const tunnel = new GuardedTunnelAgent(proxy, guard, { keepAlive: true });
  const agent = (url: URL): Agent => (url.protocol === 'https:' ? tunnel : forward);
  const host = new URL(proxy).hostname;
  return {
    requestOptions: { agent, pool: { lookup: policyLookup(guard.field, policy) } },
    check: async () => void (await resolveForConnect(host, guard.field, policy)),
  };
}

/** Where an object is reported to be: LiveKit's virtual-host URL, or `<apiEndpoint>/<bucket>/<key>`. */
export function gcsLocation(bucket: string, key: string, apiEndpoint?: string): string {
  const endpoint = apiEndpoint?.replace(/\/+$/, '');
  return endpoint ? `${endpoint}/${bucket}/${encodeKey(key)}` : `https://${bucket}.storage.googleapis.com/${encodeKey(key)}`;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** `GCP upload failed: <reason>`, without credentials (the SDK's messages never include the key itself). */
function uploadFailed(err: unknown, signal?: AbortSignal): EgressError {
  const refusal = policyRefusal(err);
  if (refusal) return new EgressError('EGR_ERR_UPLOAD_FAILED', `GCP upload failed: refused by url_policy: ${refusal.message}`, { cause: refusal });
  if (err instanceof EgressError) return err;
  const e = err as { message?: unknown; code?: unknown } | undefined;
  const reason = signal?.aborted
    ? 'aborted'
    : typeof e?.message === 'string'
      ? [typeof e.code === 'number' ? e.code : '', e.message].join(' ').trim()
      : String(err);
  return new EgressError('EGR_ERR_UPLOAD_FAILED', `GCP upload failed: ${redactText(reason, GCS_MESSAGE_REDACTION)}`, { cause: err });
}

/** PEM blocks (a service account's key) and token-bearing query parameters. */
const GCS_MESSAGE_REDACTION: TextRedaction = {
  patterns: [
    [/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g, REDACTED],
    [/(access_token|private_key|upload_id)=[^&\s]+/gi, `$1=${REDACTED}`],
  ],
  maxLength: 500,
};
