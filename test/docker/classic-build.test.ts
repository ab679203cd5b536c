/**
 * docker/Dockerfile builds with the classic builder too (DOCKER_BUILDKIT=0: no BuildKit-only syntax, no
 * frontend image to pull), into images that start, share their node_modules layer, and hold none of the CA
 * certificates the build trusted. stack.test.ts builds and runs the BuildKit images. The images stay in the
 * engine under egress-queue-classic:* so that the next run is cached. Skips, saying why, only where no Docker
 * engine can be started.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { baseImages } from './bases.ts';
import { copyBuildContext, type BuildContext } from './build-context.ts';
import { filesWithMarkerCertificate, sharedAppLayers } from './images.ts';
import { run } from './run.ts';
import { SuiteEngine } from './suite-engine.ts';

const TAG = 'egress-queue-classic';
const ENTRY_POINTS = { api: 'api/main.ts', worker: 'workers/main.ts' } as const;

describe('docker/Dockerfile with the classic builder', { concurrency: false }, () => {
  const engine = new SuiteEngine();
  let context: BuildContext | undefined;
  let nodeImage = 'node:24-bookworm-slim';
  const seconds: Record<string, number> = {};

  before(async () => {
    if (!(await engine.start())) return;
    context = await copyBuildContext();
    nodeImage = (await baseImages()).NODE_IMAGE ?? nodeImage;
    // deps is a build stage only; it is built here to show that the marker search finds what is there.
    for (const target of ['deps', 'api', 'worker']) {
      const started = Date.now();
      const args = [
        'build',
        '--quiet',
        '-f',
        'docker/Dockerfile',
        '--target',
        target,
        '--build-arg',
        `NODE_IMAGE=${nodeImage}`,
        '-t',
        `${TAG}:${target}`,
        '.',
      ];
      await run('docker', args, { cwd: context.dir, env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeoutMs: 1_200_000 });
      seconds[target] = (Date.now() - started) / 1000;
    }
    await run('docker', ['image', 'prune', '--force', '--filter', 'label=org.opencontainers.image.title=egress-queue']);
  });

  after(async () => {
    context?.remove();
    await engine.stop();
  });

  test('both images build and run as the user egress', async (t) => {
    if (engine.skipped(t)) return;
    t.diagnostic(`build seconds: ${JSON.stringify(seconds)}`);
    for (const target of ['api', 'worker']) {
      assert.equal((await run('docker', ['image', 'inspect', '--format', '{{.Config.User}}', `${TAG}:${target}`])).stdout.trim(), 'egress', target);
    }
  });

  test('each entry point finds every package it imports: it gets as far as reading its config', async (t) => {
    if (engine.skipped(t)) return;
    for (const [target, entry] of Object.entries(ENTRY_POINTS)) {
      // ES modules are linked, every import resolved, before any of their code runs: a config error proves it.
      const { code, stderr } = await run('docker', ['run', '--rm', '-e', 'EGRESS_CONFIG_BODY=not_a_key: 1', `${TAG}:${target}`, 'node', entry], {
        allowFailure: true,
      });
      assert.doesNotMatch(stderr, /ERR_MODULE_NOT_FOUND|Cannot find (package|module)/, target);
      assert.match(stderr, /invalid configuration: .*not_a_key/, target);
      assert.equal(code, 2, target);
    }
  });

  test('api and worker share the node_modules layer: the api image adds only its sources', async (t) => {
    if (engine.skipped(t)) return;
    const { shared, apiOwn } = await sharedAppLayers(`${TAG}:api`, `${TAG}:worker`, nodeImage);
    assert.equal(apiOwn, 1, 'layers of the api image that the worker image does not have');
    assert.ok(shared >= 2, `layers shared beyond the base image: ${shared} (the user, node_modules)`);
  });

  test('the images hold none of the CA certificates the build trusted; the deps stage did', async (t) => {
    if (engine.skipped(t)) return;
    assert.notDeepEqual(await filesWithMarkerCertificate(`${TAG}:deps`), [], 'the search finds the certificate where it is');
    for (const target of ['api', 'worker']) assert.deepEqual(await filesWithMarkerCertificate(`${TAG}:${target}`), [], target);
  });
});
