/**
 * Delivery to storage, whatever the back-end: what the upload, playlist and finalize jobs call. A file goes
 * to its storage and its local copy is deleted only once it is there. When the primary storage keeps failing
 * (the job's last attempt fails too) and a `backup` storage is configured, the file goes there instead and
 * so does everything the egress uploads afterwards (`backup_storage_used`, as LiveKit). With no backup the
 * error stands and the file stays on local disk, where a retried job finds it. A request's storage that
 * url_policy refuses goes to the backup at once (a retry cannot change the answer).
 */
import { rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ServiceContext } from '../../shared/context.ts';
import { policyRefusal } from '../../shared/guarded-agents.ts';
import type { StorageTarget } from '../../shared/egress-plan.ts';
import type { StorageBackend, OnUploadProgress } from './backend.ts';
import { StorageBackends } from './backends.ts';

/** LiveKit's presigned URLs last 7 days, the longest S3 allows. */
const PRESIGNED_URL_TTL_SEC = 7 * 24 * 3600;

export interface DeliverRequest {
  egressId: string;
  storage: StorageTarget;
  /** Object key (storage.prefix already applied). */
  key: string;
  /** A local file, or a small text (a playlist, a manifest). */
  payload: { path: string } | { text: string };
  contentType: string;
  onProgress?: OnUploadProgress;
  /** This is the job's last attempt: if the primary storage fails now, the backup storage takes it. */
  lastAttempt: boolean;
}

export interface Delivered {
  location: string;
  sizeBytes: number;
  /** It went to the backup storage. */
  backup: boolean;
}

export type DeliveryDeps = Pick<ServiceContext, 'config' | 'secrets' | 'events' | 'log'>;

export class Delivery {
  private readonly deps: DeliveryDeps;
  private readonly backends: StorageBackends;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
    this.backends = new StorageBackends(deps.config, deps.secrets);
  }

  async deliver(request: DeliverRequest): Promise<Delivered> {
    const { egressId } = request;
    const backup = this.backends.backup;
    if (!backup || !(await this.usingBackup(egressId))) {
      try {
        return await this.put(await this.backends.primary(egressId, request.storage), request, false);
      } catch (err) {
        // A url_policy refusal will not change on a retry: the backup takes it now.
        const refused = policyRefusal(err) !== undefined;
        if (!backup || !(request.lastAttempt || refused)) throw err;
        this.deps.log.warn(
          { egressId, key: request.key, err: (err as Error).message },
          refused ? 'primary storage refused by url_policy; using the backup storage' : 'primary storage keeps failing; using the backup storage',
        );
      }
    }
    const delivered = await this.put(backup.backend, { ...request, key: posix.join(backup.prefix, request.key) }, true);
    await this.deps.events.store.update(egressId, (info) => {
      if (info.backupStorageUsed) return false;
      info.backupStorageUsed = true;
    });
    return delivered;
  }

  /** Once one upload of an egress went to the backup storage, the rest follow it (one place to find them). */
  private async usingBackup(egressId: string): Promise<boolean> {
    return (await this.deps.events.store.get(egressId))?.backupStorageUsed ?? false;
  }

  private async put(backend: StorageBackend, request: DeliverRequest, backup: boolean): Promise<Delivered> {
    const { key, payload, contentType, onProgress } = request;
    let uploaded: { location: string };
    let sizeBytes: number;
    if ('path' in payload) {
      sizeBytes = (await stat(payload.path)).size;
      uploaded = await backend.uploadFile(payload.path, key, { contentType, sizeBytes, ...(onProgress ? { onProgress } : {}) });
      await rm(payload.path, { force: true });
    } else {
      sizeBytes = Buffer.byteLength(payload.text);
      uploaded = await backend.uploadText(payload.text, key, contentType);
    }
    return { location: await this.locationOf(backend, key, uploaded.location), sizeBytes, backup };
  }

  /** `storage.generate_presigned_url`: a URL that reads the object for 7 days, where the back-end can sign one. */
  private async locationOf(backend: StorageBackend, key: string, location: string): Promise<string> {
    if (!this.deps.config.storage.generate_presigned_url || !backend.presign) return location;
    try {
      return await backend.presign(key, PRESIGNED_URL_TTL_SEC);
    } catch (err) {
      this.deps.log.warn({ key, storage: backend.name, err: (err as Error).message }, 'cannot presign the location; reporting the object URL');
      return location;
    }
  }
}
