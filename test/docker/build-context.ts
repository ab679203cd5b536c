/**
 * The repository as a user's checkout would be (git's files, tracked or new, nothing ignored), copied to a
 * temporary directory for the image tests, with what a user behind a TLS-intercepting proxy adds to
 * docker/ca-certificates/: the certificates this machine's Node trusts (EGRESS_BUILD_CA_CERTS, else
 * NODE_EXTRA_CA_CERTS), and a marker certificate no image may contain. The checkout itself is never written.
 * The copy's contents are the same from run to run, so the builders' caches hold.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './run.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const MARKER_CA = fileURLToPath(new URL('build-ca-marker.crt', import.meta.url));

export interface BuildContext {
  dir: string;
  remove(): void;
}

export async function copyBuildContext(): Promise<BuildContext> {
  const dir = mkdtempSync(join(tmpdir(), 'egress-queue-context-'));
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO });
  for (const file of listed.stdout.split('\0')) {
    const from = join(REPO, file);
    // A file deleted but not yet staged is still listed.
    if (!file || !existsSync(from) || !statSync(from).isFile()) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(from, join(dir, file));
  }
  const certificates = join(dir, 'docker', 'ca-certificates');
  const trusted = process.env.EGRESS_BUILD_CA_CERTS || process.env.NODE_EXTRA_CA_CERTS;
  if (trusted) copyFileSync(trusted, join(certificates, 'build-host.crt'));
  copyFileSync(MARKER_CA, join(certificates, 'test-marker.crt'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
