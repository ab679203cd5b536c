/** What an image holds, read from the engine or from inside a throwaway container of it. */
import { readFileSync } from 'node:fs';
import { MARKER_CA } from './build-context.ts';
import { run } from './run.ts';

/** Where a certificate would be put or left: everything but the system's own files. */
const SEARCHED = ['/etc', '/usr/local', '/usr/share/ca-certificates', '/tmp', '/app', '/home', '/root', '/var', '/opt'];

/** Files of `image` that hold the marker certificate of the build context (build-context.ts). */
export async function filesWithMarkerCertificate(image: string): Promise<string[]> {
  // One line of the certificate's base64 body: it appears in no other file.
  const line = readFileSync(MARKER_CA, 'utf8').split('\n')[2]!;
  const { stdout } = await run('docker', [
    'run',
    '--rm',
    '--user',
    '0',
    '--entrypoint',
    'sh',
    image,
    '-c',
    'grep -rlF -e "$0" "$@" 2>/dev/null; true',
    line,
    ...SEARCHED,
  ]);
  return stdout.split('\n').filter(Boolean);
}

/** The image's layers (content digests), bottom first. */
export async function layers(image: string): Promise<string[]> {
  const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', image]);
  return JSON.parse(stdout) as string[];
}

/**
 * How the api and worker images of docker/Dockerfile share layers: all of the api image but its top layer
 * (the sources) should be the bottom of the worker image, which is then stored once. Returns how many
 * layers the two share beyond those of `baseImage`.
 */
export async function sharedAppLayers(api: string, worker: string, baseImage: string): Promise<{ shared: number; apiOwn: number }> {
  const [a, w, base] = await Promise.all([layers(api), layers(worker), layers(baseImage)]);
  let shared = 0;
  while (shared < a.length && a[shared] === w[shared]) shared++;
  return { shared: shared - base.length, apiOwn: a.length - shared };
}
