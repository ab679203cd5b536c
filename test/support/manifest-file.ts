/** The `<egress_id>.json` manifest an egress wrote beside its outputs on local storage (EgressInfo.manifestLocation). */
import { readFile } from 'node:fs/promises';
import type { Manifest } from '../../workers/outputs/manifest.ts';

export async function readManifest(location: string): Promise<Manifest> {
  return JSON.parse(await readFile(location, 'utf8')) as Manifest;
}
