/**
 * docker/compose.yml keeps the rules that make `--scale` and draining work: no container names, no fixed
 * host ports on scaled services, one service per pool, all on one worker image built once, a stop grace
 * period covering shutdown_grace whatever EGRESS_SHUTDOWN_GRACE says, a Redis that keeps jobs, shared memory
 * for Chromium. If the compose plugin is installed, compose itself validates the file too. Never builds or
 * starts anything (stack.test.ts does).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../shared/config/load.ts';
import { POOL_NAMES } from '../../shared/config/schema.ts';

const COMPOSE_FILE = fileURLToPath(new URL('../../docker/compose.yml', import.meta.url));
const DOCKERFILE = fileURLToPath(new URL('../../docker/Dockerfile', import.meta.url));

interface Service {
  image?: string;
  build?: { target?: string; args?: Record<string, string> };
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | null>;
  stop_grace_period?: string;
  shm_size?: string;
  command?: string[];
}

/** Compose's interpolation of `${NAME}` and `${NAME:-default}` (the forms the file uses). */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => variables[name] || fallback || '');
}

/** The file as Compose sees it with these variables (docker/.env or the shell). */
function composeWith(variables: Record<string, string>) {
  // Compose resolves YAML merge keys (`<<: *anchor`), so the test must too.
  const compose = parse(interpolate(readFileSync(COMPOSE_FILE, 'utf8'), variables), { merge: true }) as { services: Record<string, Service> };
  const services = Object.entries(compose.services);
  /** The services operators scale: one per worker pool, told which by EGRESS_POOLS. */
  const workers = services.filter(([, s]) => s.environment?.EGRESS_POOLS);
  return { compose, services, workers };
}

const { compose, services, workers } = composeWith({});

/** Compose durations: "10m", "1m30s", "90s". */
function seconds(duration: string): number {
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms|us)/g)];
  assert.equal(parts.map((p) => p[0]).join(''), duration, `not a compose duration: ${duration}`);
  const unit = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6 } as const;
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
}

describe('docker/compose.yml', () => {
  test('no service sets container_name', () => {
    for (const [name, service] of services) assert.equal(service.container_name, undefined, name);
  });

  test('there is exactly one worker service per pool', () => {
    const pools = workers.map(([, s]) => s.environment!.EGRESS_POOLS).sort();
    assert.deepEqual(pools, [...POOL_NAMES].sort());
  });

  test('scaled (worker) services publish no host ports', () => {
    for (const [name, service] of workers) assert.equal(service.ports, undefined, name);
  });

  for (const grace of [undefined, '10', '3600']) {
    test(`every worker service may drain for longer than shutdown_grace (EGRESS_SHUTDOWN_GRACE ${grace ?? 'unset'})`, () => {
      for (const [name, service] of composeWith(grace ? { EGRESS_SHUTDOWN_GRACE: grace } : {}).workers) {
        assert.ok(service.stop_grace_period, `${name} has no stop_grace_period`);
        // Also checks the shared config body against the schema (unknown keys, wrong types).
        const { EGRESS_CONFIG_BODY, EGRESS_POOLS } = service.environment!;
        const config = loadConfig({
          env: { EGRESS_CONFIG_BODY: EGRESS_CONFIG_BODY ?? '', EGRESS_POOLS: EGRESS_POOLS ?? '', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's' },
        });
        if (grace) assert.equal(config.shutdown_grace, Number(grace));
        // Finalizing takes time too: a minute more than the grace.
        assert.ok(
          seconds(service.stop_grace_period) >= config.shutdown_grace + 60,
          `${name}: stop_grace_period ${service.stop_grace_period}, shutdown_grace ${config.shutdown_grace}s`,
        );
      }
    });
  }

  test('one worker image for every pool, built once; the API image from the same Dockerfile', () => {
    const builders = services
      .filter(([, s]) => s.build)
      .map(([name, s]) => `${name}:${s.build?.target}`)
      .sort();
    assert.deepEqual(builders, ['api:api', 'room-composite:worker']);
    for (const [name, service] of workers) assert.equal(service.image, 'egress-queue-worker', name);
    assert.equal(compose.services.api?.image, 'egress-queue-api');
  });

  test("the default base image is the Dockerfile's", () => {
    const dockerfileDefault = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(DOCKERFILE, 'utf8'))?.[1];
    for (const name of ['api', 'room-composite']) assert.equal(compose.services[name]?.build?.args?.NODE_IMAGE, dockerfileDefault, name);
  });

  test('the API and workers reach Redis by service name, and API keys come only from the environment', () => {
    for (const [name, service] of [...workers, ['api', compose.services.api!] as const]) {
      assert.equal(service.environment?.REDIS_URL, 'redis://redis:6379', name);
      for (const key of ['LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET']) {
        const value = service.environment?.[key];
        assert.ok(value === null || value === `\${${key}}`, `${name}: ${key} must be taken from the environment, not set to ${value}`);
      }
    }
  });

  test('Redis keeps its data and never evicts jobs', () => {
    const command = compose.services.redis?.command?.join(' ') ?? '';
    assert.match(command, /--appendonly yes/);
    assert.match(command, /--maxmemory-policy noeviction/);
  });

  test('room-composite has shared memory for Chromium', () => {
    assert.equal(compose.services['room-composite']?.shm_size, '2gb');
  });

  test('docker compose accepts the file', (t) => {
    const version = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (version.status !== 0) {
      t.skip('docker compose is not installed here: only the static checks ran');
      return;
    }
    const check = spawnSync('docker', ['compose', '-f', COMPOSE_FILE, 'config', '-q'], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  });
});
