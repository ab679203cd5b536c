/** Where a plan's outputs go: storage keys (templates expanded, `storage.prefix` applied) and content types. */
import { posix } from 'node:path';
import { pathPolicyOf, type EgressPlan, type FileType, type StorageTarget } from '../../shared/egress-plan.ts';
import { FILE_CONTENT_TYPE, FILE_EXTENSION } from '../../shared/encoding.ts';
import { EgressError } from '../../shared/errors.ts';
import { namingVarsOf, resolveOutputPath, type NamingVars } from '../../shared/naming.ts';

export interface OutputTarget {
  /** Key relative to the storage root, prefix included; for local storage, relative to the recordings directory. */
  key: string;
  contentType: string;
  storage: StorageTarget;
}

/**
 * The file's key. Track egress knows its container (and the room's naming variables) only once the track
 * is received: `known` gives them, and the codec's type wins over the planned one, as in LiveKit, which
 * replaces a wrong known extension with the codec's.
 */
export function fileOutputTarget(
  plan: EgressPlan,
  storagePrefix: string,
  known: { fileType?: FileType | undefined; vars?: Partial<NamingVars> | undefined } = {},
): OutputTarget {
  const file = plan.file;
  if (!file) throw new EgressError('EGR_ERR_INTERNAL', 'the plan has no file output');
  const fileType = known.fileType ?? file.fileType;
  if (fileType === 'auto') throw new EgressError('EGR_ERR_INTERNAL', 'the file type follows the track codec, which is not known yet');
  const key = resolveOutputPath(file.filepath, namingVarsOf(plan, known.vars), FILE_EXTENSION[fileType], pathPolicyOf(file.storage));
  return { key: storagePrefix ? posix.join(storagePrefix, key) : key, contentType: FILE_CONTENT_TYPE[fileType], storage: file.storage };
}

/** `<egress_id>.json` beside an output's key, in the same storage. */
export function manifestTarget(plan: EgressPlan, beside: OutputTarget): { key: string; storage: StorageTarget } {
  return { key: posix.join(posix.dirname(beside.key), `${plan.egressId}.json`), storage: beside.storage };
}
