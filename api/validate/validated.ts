/**
 * What a request validator hands back in one pass: the plan (job data, nothing secret) and the secrets its
 * worker needs, gathered while the outputs were checked rather than by walking the request again.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { sealStream, type EgressSecrets } from '../../shared/egress-secrets.ts';
import { sealUploads, type UploadChoice } from './outputs/upload-storage.ts';
import type { ResolvedStreamUrl } from './stream-url.ts';

export interface Validated {
  plan: EgressPlan;
  /** Real stream URLs (keys included, rebuilt from their checked parts) and upload configs, by ref: for the sealed store. */
  secrets: EgressSecrets;
}

/**
 * The plan with its secrets: the stream targets in request order (the same URL twice is one stream, as
 * LiveKit keys its streams by URL) and the upload configs of its outputs.
 */
export function validated(plan: EgressPlan, targets: readonly ResolvedStreamUrl[], uploads: readonly UploadChoice[]): Validated {
  const unique = targets.filter((t, i) => targets.findIndex((other) => other.id === t.id) === i);
  return {
    plan,
    secrets: {
      ...(plan.stream ? { streamProtocol: plan.stream.protocol } : {}),
      streams: unique.map(sealStream),
      uploads: sealUploads(uploads),
    },
  };
}
