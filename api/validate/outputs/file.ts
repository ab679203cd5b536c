/**
 * The file output of a transcoding request (EncodedFileOutput, v2 FileOutput): its type, and its path checked
 * now with what is known, then again once the codecs have chosen the container (the extension is part of the
 * key).
 */
import { pathPolicyOf, type FileOutputPlan, type FileType, type StorageTarget } from '../../../shared/egress-plan.ts';
import { FILE_EXTENSION, fileTypeOf } from '../../../shared/encoding.ts';
import { invalidField } from '../../../shared/errors.ts';
import { resolveOutputPath, type NamingVars } from '../../../shared/naming.ts';
import { checkStorageKey } from '../storage-keys.ts';
import type { FileRequest } from './gather.ts';

export interface DraftFile {
  /** `default` until the codecs choose. */
  fileType: FileType | 'default';
  filepath: string;
  disableManifest: boolean;
  storage: StorageTarget;
}

export function checkFile(file: FileRequest, vars: NamingVars): DraftFile {
  const fileType = fileTypeOf(file.fileType);
  if (!fileType) throw invalidField('file_type');
  resolveOutputPath(file.filepath, vars, '', pathPolicyOf(file.storage));
  return { fileType, filepath: file.filepath, disableManifest: file.disableManifest, storage: file.storage };
}

/** `chosen`: what negotiateCodecs made of a DEFAULT_FILETYPE file (always set when the file had that type). */
export function filePlan(file: DraftFile, chosen: FileType | undefined, vars: NamingVars): FileOutputPlan {
  const fileType = file.fileType === 'default' ? chosen! : file.fileType;
  // Again with the real extension: the generated name is only now complete.
  const key = resolveOutputPath(file.filepath, vars, FILE_EXTENSION[fileType], pathPolicyOf(file.storage));
  checkStorageKey(key, 0, file.storage, 'filepath');
  return { fileType, filepath: file.filepath, disableManifest: file.disableManifest, storage: file.storage };
}
