/**
 * The storage destinations a Start request names in its own upload configs, checked at the RPC: an S3
 * `endpoint` and the `proxy.url` of S3 and GCP against url_policy (permission_denied naming `s3.endpoint`,
 * `s3.proxy.url`, `gcp.proxy.url`), their length, and the GCP credentials and Azure account name rules of
 * shared/request-storage.ts. The upload worker checks again when it connects. The service's own storage
 * config is the operator's and is not checked.
 *
 * Upload configs are found by walking the whole message (v1 per-output oneofs, the deprecated `output`,
 * v2 `storage` at request and output level, uploads nested in segments and images), so none is missed.
 */
import { AzureBlobUpload, GCPUpload, S3Upload, type ProxyConfig } from '@livekit/protocol';
import { Message, type AnyMessage } from '@bufbuild/protobuf';
import { invalidField } from '../shared/errors.ts';
import { azureAccountNameProblem, gcpCredentialsProblem, httpUrlProblem, normalizedS3Endpoint } from '../shared/request-storage.ts';
import { checkUrl, type UrlPolicy } from '../shared/url-policy.ts';

type UploadConfig = S3Upload | GCPUpload | AzureBlobUpload;

/** Every S3, GCP and Azure upload message inside `message`. */
export function uploadConfigsOf(message: AnyMessage): UploadConfig[] {
  const found: UploadConfig[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value instanceof S3Upload || value instanceof GCPUpload || value instanceof AzureBlobUpload) found.push(value);
    else if (value instanceof Message) for (const field of Object.values(value as object)) visit(field);
    else if (typeof value === 'object' && value !== null && 'case' in value) visit((value as { value?: unknown }).value);
  };
  visit(message);
  return found;
}

export interface StorageCheckDeps {
  policy: UrlPolicy;
  maxUrlLength: number;
}

export async function checkStorageDestinations(request: AnyMessage, deps: StorageCheckDeps): Promise<void> {
  const urls = new Map<string, string>(); // field + url → url, each checked once
  const destination = (url: string, field: string) => {
    if (url.length > deps.maxUrlLength) throw invalidField(field, `longer than ${deps.maxUrlLength} characters`);
    const problem = httpUrlProblem(url);
    if (problem) throw invalidField(field, problem);
    urls.set(`${field} ${url}`, url);
  };
  const proxy = (config: ProxyConfig | undefined, field: string) => {
    if (config?.url) destination(config.url, field);
  };
  for (const upload of uploadConfigsOf(request)) {
    if (upload instanceof S3Upload) {
      if (upload.endpoint) destination(normalizedS3Endpoint(upload.endpoint)!, 's3.endpoint');
      proxy(upload.proxy, 's3.proxy.url');
    } else if (upload instanceof GCPUpload) {
      const problem = gcpCredentialsProblem(upload.credentials);
      if (problem) throw invalidField('gcp.credentials', problem);
      proxy(upload.proxy, 'gcp.proxy.url');
    } else {
      const problem = azureAccountNameProblem(upload.accountName);
      if (problem) throw invalidField('azure.account_name', problem);
    }
  }
  for (const [key, url] of urls) await checkUrl(url, key.slice(0, key.indexOf(' ')), deps.policy);
}
