/**
 * Azure Blob back-end: block-blob uploads with @azure/storage-blob, as LiveKit's Azure uploader does (4 MiB
 * blocks, 16 in parallel, exponential retry: 5 tries, at most 5 s between them).
 *
 * Location: `https://<account>.blob.core.windows.net/<container>/<key>` (LiveKit's form); with a custom
 * `endpoint` (Azurite, sovereign clouds), `<endpoint>/<container>/<key>`.
 */
import {
  BlobSASPermissions,
  BlockBlobClient,
  StorageRetryPolicyType,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  newPipeline,
} from '@azure/storage-blob';
import { EgressError } from '../../shared/errors.ts';
import { REDACTED, redactText, type TextRedaction } from '../../shared/redact.ts';
import type { StorageBackend } from './backend.ts';

export interface AzureBackendOptions {
  accountName: string;
  accountKey: string;
  containerName: string;
  /** From the service config: the blob service URL (`http://127.0.0.1:10000/devstoreaccount1`, a sovereign cloud's). */
  endpoint?: string;
  /** Time limit of one request (one 4 MiB block) before it is abandoned and retried; default 60 s. */
  tryTimeoutMs?: number;
}

const BLOCK_BYTES = 4 * 1024 * 1024;
const CONCURRENCY = 16;
const MAX_TRIES = 5;
/** The Go SDK's default first delay (LiveKit leaves it), capped at LiveKit's 5 s. */
const RETRY_DELAY_MS = 4000;
const MAX_RETRY_DELAY_MS = 5000;
const DEFAULT_TRY_TIMEOUT_MS = 60_000;

export function createAzureBackend(options: AzureBackendOptions): StorageBackend {
  const serviceUrl = (options.endpoint ?? `https://${options.accountName}.blob.core.windows.net`).replace(/\/+$/, '');
  let credential: StorageSharedKeyCredential;
  try {
    credential = new StorageSharedKeyCredential(options.accountName, options.accountKey);
  } catch {
    throw new EgressError('EGR_ERR_UPLOAD_FAILED', 'Azure upload failed: invalid account key');
  }
  const pipeline = newPipeline(credential, {
    retryOptions: {
      retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
      maxTries: MAX_TRIES,
      retryDelayInMs: RETRY_DELAY_MS,
      maxRetryDelayInMs: MAX_RETRY_DELAY_MS,
      tryTimeoutInMs: options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS,
    },
    keepAliveOptions: { enable: true },
  });
  const container = options.containerName;
  const locationOf = (key: string) => azureLocation(options.accountName, container, key, serviceUrl);
  const clientFor = (key: string) => new BlockBlobClient(locationOf(key), pipeline);

  return {
    name: 'Azure',
    async uploadFile(localPath, key, { contentType, sizeBytes, onProgress, signal }) {
      try {
        signal?.throwIfAborted();
        let reported = 0;
        await clientFor(key).uploadFile(localPath, {
          blockSize: BLOCK_BYTES,
          maxSingleShotSize: BLOCK_BYTES,
          concurrency: CONCURRENCY,
          blobHTTPHeaders: { blobContentType: contentType },
          ...(signal ? { abortSignal: signal } : {}),
          onProgress: ({ loadedBytes }) => {
            if (loadedBytes > reported) {
              reported = loadedBytes;
              onProgress?.(loadedBytes, sizeBytes);
            }
          },
        });
        if (reported < sizeBytes || sizeBytes === 0) onProgress?.(sizeBytes, sizeBytes);
        return { location: locationOf(key) };
      } catch (err) {
        throw uploadFailed(err, signal);
      }
    },

    async uploadText(text, key, contentType) {
      try {
        const body = Buffer.from(text);
        await clientFor(key).upload(body, body.length, { blobHTTPHeaders: { blobContentType: contentType } });
        return { location: locationOf(key) };
      } catch (err) {
        throw uploadFailed(err);
      }
    },

    async presign(key, expiresInSec) {
      const sas = generateBlobSASQueryParameters(
        {
          containerName: container,
          blobName: key,
          permissions: BlobSASPermissions.parse('r'),
          startsOn: new Date(Date.now() - 5 * 60_000),
          expiresOn: new Date(Date.now() + expiresInSec * 1000),
        },
        credential,
      );
      return `${locationOf(key)}?${sas.toString()}`;
    },
  };
}

/** Where a blob is reported to be: `https://<account>.blob.core.windows.net/<container>/<key>`, or under `endpoint`. */
export function azureLocation(accountName: string, containerName: string, key: string, endpoint?: string): string {
  const serviceUrl = (endpoint ?? `https://${accountName}.blob.core.windows.net`).replace(/\/+$/, '');
  return `${serviceUrl}/${encodeURIComponent(containerName)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** `Azure upload failed: <reason>`: the SDK's message (first line), never the key or a signature. */
function uploadFailed(err: unknown, signal?: AbortSignal): EgressError {
  if (err instanceof EgressError) return err;
  const e = err as { message?: string; code?: string; statusCode?: number } | undefined;
  const reason = signal?.aborted
    ? 'aborted'
    : [e?.statusCode, e?.code, (e?.message ?? String(err)).split('\n')[0]].filter((part) => part !== undefined && part !== '').join(' ');
  return new EgressError('EGR_ERR_UPLOAD_FAILED', `Azure upload failed: ${redactText(reason, AZURE_MESSAGE_REDACTION)}`, { cause: err });
}

/** SAS signatures and SharedKey authorizations. */
const AZURE_MESSAGE_REDACTION: TextRedaction = {
  patterns: [[/(sig|SharedKey [^:]+:)[=]?[A-Za-z0-9%+/=]+/g, `$1${REDACTED}`]],
  maxLength: 500,
};
