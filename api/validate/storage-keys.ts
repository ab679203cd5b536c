/**
 * Storage keys a request's names resolve to, held to what the stores take, so that a long room name in
 * `{room_name}` fails the RPC instead of the upload at the end of a recording. These are facts of the
 * stores, not policy: S3, GCS and Azure take keys of at most 1024 bytes; a file system takes 255 bytes
 * per path part (the service storage may be local disk).
 */
import type { StorageTarget } from '../../shared/egress-plan.ts';
import { invalidField } from '../../shared/errors.ts';

const MAX_KEY_BYTES = 1024;
const MAX_PART_BYTES = 255;

/** What workers append to a segment prefix (`_<utc>.ts`; `_00001.ts` is shorter) and an image prefix. */
export const SEGMENT_SUFFIX_LENGTH = '_20260101000000000.ts'.length;
export const IMAGE_SUFFIX_LENGTH = '_20260101000000000.jpeg'.length;
/** The longest extension track egress adds once it knows the codec. */
export const TRACK_EXTENSION_LENGTH = '.webm'.length;

/** `key` as resolved now (variables known later stay as written), plus `suffixLength` ASCII characters to come. */
export function checkStorageKey(key: string, suffixLength: number, storage: StorageTarget, field: string): void {
  if (Buffer.byteLength(key) + suffixLength > MAX_KEY_BYTES) throw invalidField(field, `resolves to a name longer than ${MAX_KEY_BYTES} bytes`);
  if (storage.kind !== 'service') return;
  const parts = key.split('/');
  const last = parts.length - 1;
  if (parts.some((part, i) => Buffer.byteLength(part) + (i === last ? suffixLength : 0) > MAX_PART_BYTES)) {
    throw invalidField(field, `resolves to a file or directory name longer than ${MAX_PART_BYTES} bytes`);
  }
}
