/**
 * What a request's own upload config (S3Upload, GCPUpload, AzureBlobUpload) may make a worker connect to or
 * load: the rules both the API (at the RPC) and the upload worker (when it opens the sealed config) apply.
 *
 * - S3 `endpoint` and every `proxy.url` are destinations: url_policy decides (shared/guarded-agents.ts at
 *   connect time). Without an endpoint S3 goes to AWS's own names.
 * - GCP `credentials` is JSON that can name URLs and files: an external-account credential makes the client
 *   fetch `credential_source.url`, read `credential_source.file` (and send it to `token_url`) or run a
 *   command. Only service-account and authorized-user keys are taken: they talk to Google's fixed token
 *   endpoint and nothing else.
 * - Azure `account_name` becomes the host `<account>.blob.core.windows.net`: it must be a real account name
 *   (3-24 lower-case letters and digits), or it could rewrite the URL.
 */

/** `type` values of a GCP credentials JSON that are accepted (none: a service account, as Google reads it). */
export const GCP_CREDENTIAL_TYPES: ReadonlySet<string> = new Set(['service_account', 'authorized_user']);

const AZURE_ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;

/** An S3 endpoint as the client uses it: `https://` when it names no scheme, no trailing slash. */
export function normalizedS3Endpoint(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
  return withScheme.replace(/\/+$/, '');
}

/** Why a request's endpoint or proxy URL is unusable (not http(s) with a host), or undefined. */
export function httpUrlProblem(url: string): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) return 'must be an http(s) URL';
  return undefined;
}

/** Why a request's GCP credentials are refused, or undefined (empty: none given). */
export function gcpCredentialsProblem(credentials: string): string | undefined {
  if (credentials.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(credentials);
  } catch {
    return 'not valid JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const type = (parsed as { type?: unknown }).type;
  if (type !== undefined && (typeof type !== 'string' || !GCP_CREDENTIAL_TYPES.has(type)))
    return 'only service_account and authorized_user credentials are accepted';
  return undefined;
}

export function azureAccountNameProblem(accountName: string): string | undefined {
  return AZURE_ACCOUNT_NAME.test(accountName) ? undefined : 'an Azure storage account name: 3-24 lower-case letters and digits';
}
