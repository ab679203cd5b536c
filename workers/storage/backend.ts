/**
 * What every remote storage back-end (S3, GCS, Azure, …) implements: put one local file, or one small text,
 * under a key, and say where it landed. Keys are final object names (any server prefix already applied).
 * Back-ends retry transient failures themselves and reject with EgressError('EGR_ERR_UPLOAD_FAILED', …)
 * once they give up; messages never carry credentials. The local file is left in place: the caller deletes it.
 */

/** `sent` grows monotonically and the last call, on success, is (total, total). */
export type OnUploadProgress = (sentBytes: number, totalBytes: number) => void;

export interface UploadFileOptions {
  /** MIME type stored with the object (video/mp4, application/x-mpegurl, …). */
  contentType: string;
  /** The file's size, known to the caller (from stat); back-ends size multipart chunks from it. */
  sizeBytes: number;
  onProgress?: OnUploadProgress;
  /** Aborting cancels the upload (a partial multipart upload is cleaned up) and rejects it. */
  signal?: AbortSignal;
}

export interface Uploaded {
  /** The object's location as LiveKit reports it (an https URL for the cloud back-ends). */
  location: string;
}

export interface StorageBackend {
  /** For messages: `S3`, `GCP`, `Azure`, `local` (LiveKit's `<name> upload failed: …`). */
  readonly name: string;
  uploadFile(localPath: string, key: string, options: UploadFileOptions): Promise<Uploaded>;
  uploadText(text: string, key: string, contentType: string): Promise<Uploaded>;
  /** A URL that reads the object for `expiresInSec` without credentials; absent where the back-end cannot sign. */
  presign?(key: string, expiresInSec: number): Promise<string>;
}
