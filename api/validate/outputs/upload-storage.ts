/**
 * Where a requested output goes (egress `pkg/config/storage.go`): a per-output upload config (v1 oneof, v2
 * StorageConfig), else the request's (v2), else the service's own storage. Credentials stay in the request:
 * the plan carries a `StorageTarget`, which names a bucket and a ref, and the configs are sealed by ref.
 */
import type { EncodedFileOutput, S3Upload, StorageConfig } from '@livekit/protocol';
import { createHash } from 'node:crypto';
import type { StorageTarget } from '../../../shared/egress-plan.ts';
import type { SealedUpload } from '../../../shared/egress-secrets.ts';
import { EgressError, invalidField } from '../../../shared/errors.ts';

/** A per-output upload oneof (v1) or StorageConfig.provider (v2): the same four members. */
export type UploadChoice = EncodedFileOutput['output'];

const required = (value: string, field: string): string => {
  if (value === '') throw invalidField(field);
  return value;
};

/** LiveKit needs its server's own AssumeRole key for an ARN without an access key; we have none. */
function checkS3(s3: S3Upload): void {
  if (s3.assumeRoleArn && !s3.accessKey)
    throw new EgressError('EGR_ERR_PERMISSION_DENIED', 'S3 upload using AssumeRole is disabled for this account');
}

/**
 * Names a request's upload config without revealing it: a digest of the whole message, so one config used
 * by several outputs has one ref, and the job data that carries it holds nothing secret.
 */
function uploadRef(upload: Exclude<UploadChoice, { case: undefined }>): string {
  return `${upload.case}-${createHash('sha256').update(upload.case).update(upload.value.toBinary()).digest('hex').slice(0, 16)}`;
}

/** Where an output goes; no upload config = the service's own storage. */
export function storageTarget(upload: UploadChoice): StorageTarget {
  switch (upload.case) {
    case 's3':
      checkS3(upload.value);
      return { kind: 's3', bucket: required(upload.value.bucket, 's3.bucket'), ref: uploadRef(upload) };
    case 'gcp':
      return { kind: 'gcp', bucket: required(upload.value.bucket, 'gcp.bucket'), ref: uploadRef(upload) };
    case 'azure':
      return { kind: 'azure', container: required(upload.value.containerName, 'azure.container_name'), ref: uploadRef(upload) };
    case 'aliOSS':
      required(upload.value.bucket, 'aliOSS.bucket');
      throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'AliOSS storage is not supported by this version of egress-queue');
    default:
      return { kind: 'service' };
  }
}

/** The sealed form of upload configs, by ref: what a worker resolves at upload time. */
export function sealUploads(uploads: readonly UploadChoice[]): Record<string, SealedUpload> {
  const sealed: Record<string, SealedUpload> = {};
  for (const upload of uploads) {
    if (upload.case !== undefined) sealed[uploadRef(upload)] = { kind: upload.case, json: upload.value.toJsonString() };
  }
  return sealed;
}

/**
 * v2 storage: the output's, else the request's, else (our addition; LiveKit ignores it) the deprecated
 * upload inside a segments or images message, else the service's.
 */
export function v2Upload(
  perOutput: StorageConfig | undefined,
  request: StorageConfig | undefined,
  own: UploadChoice = { case: undefined },
): UploadChoice {
  return [perOutput?.provider, request?.provider].find((p) => p?.case !== undefined) ?? own;
}
