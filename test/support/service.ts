/**
 * The whole service for end-to-end tests: a real redis-server, the API listening on a free port and the
 * worker pools, in this process, configured the way an operator would (YAML body + env).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { startApi } from '../../api/main.ts';
import { loadConfig, type LoadedConfig } from '../../shared/config/load.ts';
import { startWorkers, type RunningWorkers } from '../../workers/main.ts';
import { freePort } from './free-port.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

export const E2E_API_KEY = 'e2e-key';
export const E2E_API_SECRET = 'e2e-secret-0123456789abcdef0123456789';

export interface TestService {
  url: string;
  config: LoadedConfig;
  redis: RedisServer;
  workers: RunningWorkers;
  recordingsDir: string;
  /** The environment the config was loaded from: a child worker process given it joins this service. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** `yaml` is merged into the config body (`storage` key by key, keeping the test's local directory); pools default to all of them. */
export async function startService(
  yaml: Record<string, unknown> = {},
  options: { logDestination?: NodeJS.WritableStream; persistentRedis?: boolean } = {},
): Promise<TestService> {
  const redis = await startRedis({ persistent: options.persistentRedis ?? false });
  const root = await mkdtemp(join(tmpdir(), 'egress-e2e-'));
  const recordingsDir = join(root, 'recordings');
  const env: Record<string, string> = {
    REDIS_URL: redis.url,
    LIVEKIT_API_KEY: E2E_API_KEY,
    LIVEKIT_API_SECRET: E2E_API_SECRET,
    EGRESS_CONFIG_BODY: stringify({
      // A known port: the recorders find the built-in templates at http://127.0.0.1:<port>/templates/.
      port: await freePort(),
      host: '127.0.0.1',
      tmp_dir: join(root, 'tmp'),
      logging: { level: process.env.TEST_LOG_LEVEL ?? 'warn' },
      // Admission by measured CPU has its own tests; elsewhere a busy test machine must not hold jobs back.
      admission: false,
      // Every test starts cold (and has no idle Chromium about) unless it asks for warm stations.
      warm_pool: { size: 0 },
      ...yaml,
      storage: { local: { directory: recordingsDir }, ...((yaml.storage as object | undefined) ?? {}) },
    }),
  };
  const config = loadConfig({ env });
  const log = options.logDestination ? pino({ level: config.logging.level }, options.logDestination) : pino({ level: config.logging.level });
  let workers: RunningWorkers | undefined;
  let api: Awaited<ReturnType<typeof startApi>>;
  try {
    workers = await startWorkers(config, log);
    api = await startApi(config, log);
  } catch (err) {
    // A service that cannot start must not leave its Redis (and the test process) running.
    await workers?.close(0).catch(() => undefined);
    await redis.stop();
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    url: api.url,
    config,
    redis,
    workers,
    recordingsDir,
    env,
    async stop() {
      await api.close();
      await workers.close(0);
      await redis.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
