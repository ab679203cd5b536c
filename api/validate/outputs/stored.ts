/**
 * How gathering places a requested output: with its upload config and where it goes (the storage target is
 * checked as it is gathered), and the SDK's deprecated duplicate of an output made one.
 */
import type { Message } from '@bufbuild/protobuf';
import type { StorageTarget } from '../../../shared/egress-plan.ts';
import { storageTarget, type UploadChoice } from './upload-storage.ts';

export interface Stored<T> {
  output: T;
  upload: UploadChoice;
  storage: StorageTarget;
}

export const placed = (upload: UploadChoice) => ({ upload, storage: storageTarget(upload) });
export const stored = <T>(output: T, upload: UploadChoice): Stored<T> => ({ output, ...placed(upload) });

/**
 * The official SDK sends one output twice: in the deprecated oneof and in the list. Equal, they are one
 * output; different, they are two (and the count rule refuses them).
 */
export function withLegacy<T extends Message<T>>(list: readonly T[], legacy: T | undefined): T[] {
  if (!legacy || list.some((item) => item.equals(legacy))) return [...list];
  return [legacy, ...list];
}
