/**
 * The base images, as scripts/docker-bases.sh provides them: nothing to say where the official images are
 * there or can be pulled, otherwise the names of the local stand-ins (NODE_IMAGE, REDIS_IMAGE) it made.
 */
import { fileURLToPath } from 'node:url';
import { run } from './run.ts';

const DOCKER_BASES = fileURLToPath(new URL('../../scripts/docker-bases.sh', import.meta.url));

export async function baseImages(): Promise<Record<string, string>> {
  const { stdout } = await run('bash', [DOCKER_BASES], { timeoutMs: 900_000 });
  return Object.fromEntries([...stdout.matchAll(/^export (\w+)=(\S+)$/gm)].map(([, name, value]) => [name!, value!]));
}
