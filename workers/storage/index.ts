/**
 * Delivery to storage, whatever the back-end: one function the upload and finalize jobs call. Local disk
 * today; S3, GCS and Azure plug in here.
 */
import type { LoadedConfig } from '../../shared/config/load.ts';
import type { StorageTarget } from '../../shared/egress-plan.ts';
import { EgressError } from '../../shared/errors.ts';
import { storeLocally, storeTextLocally, type Progress } from './local.ts';

export type { Progress } from './local.ts';

export interface Delivered {
  location: string;
  sizeBytes: number;
}

/** What to deliver: a local file (moved: gone afterwards) or a small text (a playlist, a manifest). */
export type Payload = { path: string } | { text: string };

export async function deliver(config: LoadedConfig, storage: StorageTarget, payload: Payload, key: string, progress: Progress = () => undefined): Promise<Delivered> {
  if (storage.kind !== 'local') throw new EgressError('EGR_ERR_NOT_SUPPORTED', `${storage.kind} uploads are not supported by this version yet`);
  const directory = config.storage.local.directory;
  return 'path' in payload ? storeLocally(payload.path, directory, key, progress) : storeTextLocally(payload.text, directory, key);
}
