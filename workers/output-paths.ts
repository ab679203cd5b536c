/** Where a plan's outputs go: storage keys (templates expanded, `storage.prefix` applied) and content types. */
import { posix } from 'node:path';
import { pathPolicyOf, type EgressPlan, type StorageTarget } from '../shared/egress-plan.ts';
import { FILE_CONTENT_TYPE, FILE_EXTENSION } from '../shared/encoding.ts';
import { EgressError } from '../shared/errors.ts';
import { namingVarsOf, resolveOutputPath } from '../shared/naming.ts';

export interface OutputTarget {
  /** Key relative to the storage root, prefix included; for local storage, relative to the recordings directory. */
  key: string;
  contentType: string;
  storage: StorageTarget;
}

export function fileOutputTarget(plan: EgressPlan, storagePrefix: string): OutputTarget {
  const file = plan.file;
  if (!file) throw new EgressError('EGR_ERR_INTERNAL', 'the plan has no file output');
  // Track egress picks its container from the track's codec, once subscribed; not built yet.
  if (file.fileType === 'auto') throw new EgressError('EGR_ERR_NOT_SUPPORTED', 'a file type chosen from the track codec is not supported yet');
  const key = resolveOutputPath(file.filepath, namingVarsOf(plan), FILE_EXTENSION[file.fileType], pathPolicyOf(file.storage));
  return { key: storagePrefix ? posix.join(storagePrefix, key) : key, contentType: FILE_CONTENT_TYPE[file.fileType], storage: file.storage };
}

/** `<egress_id>.json` beside an output's key, in the same storage. */
export function manifestTarget(plan: EgressPlan, beside: OutputTarget): { key: string; storage: StorageTarget } {
  return { key: posix.join(posix.dirname(beside.key), `${plan.egressId}.json`), storage: beside.storage };
}
