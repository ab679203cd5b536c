/**
 * The file output of a transcoding request (EncodedFileOutput, v2 FileOutput): at most one, its type, and its
 * path checked now with what is known, then again once the codecs have chosen the container (the extension
 * is part of the key).
 */
import type { EncodedFileType } from '@livekit/protocol';
import { pathPolicyOf, type FileOutputPlan, type FileType, type StorageTarget } from '../../../shared/egress-plan.ts';
import { FILE_EXTENSION, fileTypeOf } from '../../../shared/encoding.ts';
import { invalidField } from '../../../shared/errors.ts';
import { resolveOutputPath, type NamingVars } from '../../../shared/naming.ts';
import { checkStorageKey } from '../storage-keys.ts';
import { placed, withLegacy } from './stored.ts';
import { atMostOne, requestOutputKind, type CheckedKind } from './output-kind.ts';
import { v2Upload, type UploadChoice } from './upload-storage.ts';

export interface FileRequest {
  fileType: EncodedFileType;
  filepath: string;
  disableManifest: boolean;
  upload: UploadChoice;
  storage: StorageTarget;
}

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

const fileRequest = (file: Omit<FileRequest, 'upload' | 'storage'>, upload: UploadChoice): FileRequest => ({
  fileType: file.fileType,
  filepath: file.filepath,
  disableManifest: file.disableManifest,
  ...placed(upload),
});

const checkedFile = (draft: DraftFile): Omit<CheckedKind, 'name'> => ({
  carriesAudio: true,
  container: draft.fileType,
  plan: (settled) => ({ file: filePlan(draft, settled.chosenFileType, settled.vars) }),
});

export const fileKind = requestOutputKind<FileRequest>({
  name: 'file',
  fromV1: (request) =>
    withLegacy(request.fileOutputs, request.output?.case === 'file' ? request.output.value : undefined).map((f) => fileRequest(f, f.output)),
  fromV2: ({ config, storage }, request) => (config.case === 'file' ? fileRequest(config.value, v2Upload(storage, request.storage)) : undefined),
  uploadOf: (file) => file.upload,
  rules: atMostOne('multiple file outputs', (file, ctx) => checkedFile(checkFile(file, ctx.vars))),
});
