/**
 * Which back-end a StorageTarget means: the service's `storage` config (its cloud storage, else local disk),
 * the `backup` config, or a request's own upload config, opened from the sealed secret store at upload time.
 * Back-ends are built once per process and reused: a request's by its ref, a digest of its exact contents.
 */
import { AzureBlobUpload, GCPUpload, S3Upload, type ProxyConfig } from '@livekit/protocol';
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { CloudStorageConfig } from '../../shared/config/schema.ts';
import type { StorageTarget } from '../../shared/egress-plan.ts';
import type { EgressSecretStore, SealedUpload } from '../../shared/egress-secrets.ts';
import { EgressError } from '../../shared/errors.ts';
import { azureAccountNameProblem, gcpCredentialsProblem } from '../../shared/request-storage.ts';
import { urlPolicyOf } from '../../shared/url-policy.ts';
import { createAzureBackend } from './azure.ts';
import type { StorageBackend } from './backend.ts';
import { createGcsBackend } from './gcs.ts';
import { createLocalBackend } from './local.ts';
import { createS3Backend, type S3Options } from './s3.ts';

/** Request back-ends kept per process; the oldest is dropped beyond this. */
const MAX_CACHED = 64;

type ProxyFields = { url: string; username: string; password: string };

/** `http://user:password@host:port`, as the GCS client wants its proxy. */
function proxyUrl(proxy: ProxyFields | undefined): string | undefined {
  if (!proxy?.url) return undefined;
  const url = new URL(proxy.url);
  if (proxy.username) {
    url.username = proxy.username;
    url.password = proxy.password;
  }
  return url.href;
}

const s3Proxy = (proxy: ProxyFields | ProxyConfig | undefined): S3Options['proxy'] =>
  proxy?.url ? { url: proxy.url, username: proxy.username, password: proxy.password } : undefined;

/** The service's S3 retry settings apply to every S3 upload, a request's included (as in LiveKit). */
function s3Retries(config: LoadedConfig): Pick<S3Options, 'maxRetries' | 'maxRetryDelayMs' | 'minRetryDelayMs'> {
  const s3 = config.storage.s3;
  return s3 ? { maxRetries: s3.max_retries, maxRetryDelayMs: s3.max_retry_delay, minRetryDelayMs: s3.min_retry_delay } : {};
}

/**
 * The back-end a `storage` or `backup` section configures: s3, else gcp, else azure; none if it has none.
 * A section counts only when it names its bucket or container: one that only sets an endpoint or retry
 * settings for per-request uploads does not make that cloud the service's storage.
 */
export function configuredBackend(cloud: CloudStorageConfig): StorageBackend | undefined {
  if (cloud.s3?.bucket) {
    const s3 = cloud.s3;
    return createS3Backend({
      accessKey: s3.access_key,
      secret: s3.secret,
      sessionToken: s3.session_token,
      region: s3.region,
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      forcePathStyle: s3.force_path_style,
      contentDisposition: s3.content_disposition,
      proxy: s3Proxy(s3.proxy_config),
      maxRetries: s3.max_retries,
      maxRetryDelayMs: s3.max_retry_delay,
      minRetryDelayMs: s3.min_retry_delay,
    });
  }
  if (cloud.gcp?.bucket) {
    const gcp = cloud.gcp;
    const proxy = proxyUrl(gcp.proxy_config);
    return createGcsBackend({
      credentials: gcp.credentials_json,
      bucket: gcp.bucket,
      ...(gcp.endpoint ? { apiEndpoint: gcp.endpoint } : {}),
      ...(proxy ? { proxy } : {}),
    });
  }
  if (cloud.azure?.container_name) {
    const azure = cloud.azure;
    return createAzureBackend({
      accountName: azure.account_name,
      accountKey: azure.account_key,
      containerName: azure.container_name,
      ...(azure.endpoint ? { endpoint: azure.endpoint } : {}),
    });
  }
  return undefined;
}

/** A request's config the rules of shared/request-storage.ts refuse: the upload fails, naming the field. */
function refused(kind: string, field: string, problem: string | undefined): void {
  if (problem) throw new EgressError('EGR_ERR_UPLOAD_FAILED', `${kind} upload failed: ${field}: ${problem}`);
}

/**
 * A request's own upload config. GCS and Azure have no endpoint in the request: the service config's is used.
 * What it connects to on the request's say (an S3 endpoint, a proxy) is checked against url_policy on every
 * connection (the API checked it too, but names resolve anew and the worker's policy is its own).
 */
function requestBackend(sealed: SealedUpload, config: LoadedConfig): StorageBackend {
  const policy = urlPolicyOf(config);
  switch (sealed.kind) {
    case 's3': {
      const s3 = S3Upload.fromJsonString(sealed.json);
      return createS3Backend({
        accessKey: s3.accessKey,
        secret: s3.secret,
        sessionToken: s3.sessionToken,
        assumeRoleArn: s3.assumeRoleArn,
        assumeRoleExternalId: s3.assumeRoleExternalId,
        region: s3.region,
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        forcePathStyle: s3.forcePathStyle,
        metadata: s3.metadata,
        tagging: s3.tagging,
        contentDisposition: s3.contentDisposition,
        proxy: s3Proxy(s3.proxy),
        ...s3Retries(config),
        policy,
      });
    }
    case 'gcp': {
      const gcp = GCPUpload.fromJsonString(sealed.json);
      refused('GCP', 'gcp.credentials', gcpCredentialsProblem(gcp.credentials));
      const proxy = proxyUrl(gcp.proxy);
      const endpoint = config.storage.gcp?.endpoint;
      return createGcsBackend({
        credentials: gcp.credentials,
        bucket: gcp.bucket,
        ...(endpoint ? { apiEndpoint: endpoint } : {}),
        ...(proxy ? { proxy } : {}),
        policy,
      });
    }
    case 'azure': {
      const azure = AzureBlobUpload.fromJsonString(sealed.json);
      refused('Azure', 'azure.account_name', azureAccountNameProblem(azure.accountName));
      const endpoint = config.storage.azure?.endpoint;
      return createAzureBackend({
        accountName: azure.accountName,
        accountKey: azure.accountKey,
        containerName: azure.containerName,
        ...(endpoint ? { endpoint } : {}),
      });
    }
    case 'aliOSS':
      throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'AliOSS upload failed: AliOSS storage is not supported by this version of egress-queue');
  }
}

export class StorageBackends {
  private readonly config: LoadedConfig;
  private readonly secrets: EgressSecretStore;
  private readonly service: StorageBackend;
  private readonly backupBackend: StorageBackend | undefined;
  private readonly byRef = new Map<string, StorageBackend>();

  constructor(config: LoadedConfig, secrets: EgressSecretStore) {
    this.config = config;
    this.secrets = secrets;
    this.service = configuredBackend(config.storage) ?? createLocalBackend(config.storage.local.directory);
    this.backupBackend = config.backup && configuredBackend(config.backup);
  }

  /** The `backup` storage and its key prefix, if one is configured. */
  get backup(): { backend: StorageBackend; prefix: string } | undefined {
    return this.backupBackend && { backend: this.backupBackend, prefix: this.config.backup?.prefix ?? '' };
  }

  /** Where `target` of egress `egressId` goes. A request's credentials are read from the sealed store. */
  async primary(egressId: string, target: StorageTarget): Promise<StorageBackend> {
    if (target.kind === 'service') return this.service;
    const cached = this.byRef.get(target.ref);
    if (cached) return cached;
    const uploads = (await this.secrets.get(egressId)).uploads ?? {};
    // Decoded JSON: only its own keys count (a ref is our digest, but job data is editable in Bull Board).
    const sealed = Object.hasOwn(uploads, target.ref) ? uploads[target.ref] : undefined;
    if (!sealed)
      throw new EgressError(
        'EGR_ERR_UPLOAD_FAILED',
        `${target.kind} upload failed: the request's upload config is gone (expired with the egress's secrets)`,
      );
    const backend = requestBackend(sealed, this.config);
    if (this.byRef.size >= MAX_CACHED) this.byRef.delete(this.byRef.keys().next().value!);
    this.byRef.set(target.ref, backend);
    return backend;
  }
}
