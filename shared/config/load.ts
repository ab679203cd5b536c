/**
 * Loads the one config object: YAML from EGRESS_CONFIG_FILE or EGRESS_CONFIG_BODY, then the environment
 * on top, then checked against the schema. A wrong config throws a ConfigError naming the key.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { bindingProblem } from './binding.ts';
import { redisSourceProblem } from './redis-source.ts';
import { configSchema, POOL_NAMES, type Config } from './schema.ts';
import { trustProxyProblem } from './trust-proxy.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The development key pair of `livekit-server --dev`, used only by the embedded default (for the API and the LiveKit server). */
export const DEV_API_KEY = 'devkey';
export const DEV_API_SECRET = 'secret';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** `npm start` with nothing configured: allow the dev key pair when no key is set. */
  embedded?: boolean;
  /** Whether standard output is a terminal (default: process.stdout's): picks `logging.json` when not set. */
  stdoutIsTTY?: boolean;
}

/**
 * LiveKit egress config keys that a LiveKit config file may carry and this version does not use yet:
 * accepted, so an existing config works, and named in a warning at start. Any other unknown key is an error.
 */
export const LIVEKIT_KEYS_NOT_USED = [
  'template_port',
  'prometheus_port',
  'debug_handler_port',
  'cluster_id',
  'node_id',
  'max_upload_queue',
  'disallow_local_storage',
  'io_create_timeout',
  'io_update_timeout',
  'io_selection_timeout',
  'io_workers',
  's3_assume_role_key',
  's3_assume_role_secret',
  's3_assume_role_arn',
  's3_assume_role_external_id',
  'pulse_sink_reap_grace_sec',
  'debug',
  'latency',
  'latency_overrides',
  'video_encoder_threads',
  'enable_sync_engine',
  'enable_one_shot_sender_report_sync',
  'audio_tempo_controller',
  'storage.alioss',
  'backup.alioss',
  'logging.sample',
  'logging.component_levels',
  'redis.cluster_addresses',
] as const;

/** The config as read from YAML, before the schema has checked it: any value may have any shape. */
type RawConfig = Record<string, unknown>;

function takeUnusedKeys(raw: RawConfig): string[] {
  const found: string[] = [];
  for (const path of LIVEKIT_KEYS_NOT_USED) {
    const [head, tail] = path.split('.') as [string, string | undefined];
    const holder = tail ? raw[head] : raw;
    const key = tail ?? head;
    if (holder && typeof holder === 'object' && key in holder) {
      delete (holder as RawConfig)[key];
      found.push(path);
    }
  }
  return found;
}

export interface LoadedConfig extends Config {
  /** `json` resolved: set, or JSON unless standard output is a terminal. */
  logging: Config['logging'] & { json: boolean };
  /** Every accepted API key and its secret. A Map: keys come from callers (`iss`, Basic user names), never index an object with them. */
  apiKeys: ReadonlyMap<string, string>;
  /** True when the dev key pair is in use because no key was configured. */
  usingDevKeys: boolean;
  /** LiveKit config keys present but not used by this version (see LIVEKIT_KEYS_NOT_USED). */
  ignoredKeys: string[];
}

function readYaml(env: NodeJS.ProcessEnv): RawConfig {
  let text: string | undefined;
  let origin = '';
  if (env.EGRESS_CONFIG_FILE) {
    origin = env.EGRESS_CONFIG_FILE;
    try {
      text = readFileSync(env.EGRESS_CONFIG_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read EGRESS_CONFIG_FILE ${origin}: ${(err as Error).message}`);
    }
  } else if (env.EGRESS_CONFIG_BODY) {
    origin = 'EGRESS_CONFIG_BODY';
    text = env.EGRESS_CONFIG_BODY;
  }
  if (text === undefined) return {};
  try {
    const parsed: unknown = parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${origin}: the config must be a YAML mapping`);
    return parsed as RawConfig;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${origin} is not valid YAML: ${(err as Error).message}`);
  }
}

function numberFromEnv(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new ConfigError(`env ${name}: "${value}" is not a number`);
  return n;
}

/** Environment variables on top of the YAML, for the keys operators set per container. */
function applyEnv(raw: RawConfig, env: NodeJS.ProcessEnv): void {
  if (env.LIVEKIT_API_KEY) raw.api_key = env.LIVEKIT_API_KEY;
  if (env.LIVEKIT_API_SECRET) raw.api_secret = env.LIVEKIT_API_SECRET;
  const wsUrl = env.LIVEKIT_URL ?? env.LIVEKIT_WS_URL;
  if (wsUrl) raw.ws_url = wsUrl;
  if (env.EGRESS_PORT) raw.port = numberFromEnv('EGRESS_PORT', env.EGRESS_PORT);
  if (env.EGRESS_HOST) raw.host = env.EGRESS_HOST;
  if (env.EGRESS_HEALTH_PORT) raw.health_port = numberFromEnv('EGRESS_HEALTH_PORT', env.EGRESS_HEALTH_PORT);
  if (env.EGRESS_POOLS) {
    const pools = env.EGRESS_POOLS.split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const unknown = pools.filter((p) => !(POOL_NAMES as readonly string[]).includes(p));
    if (unknown.length) throw new ConfigError(`env EGRESS_POOLS: unknown pool ${unknown.join(', ')} (pools: ${POOL_NAMES.join(', ')})`);
    raw.pools = pools;
  }
  if (env.EGRESS_LOG_LEVEL) raw.logging = { ...(raw.logging ?? {}), level: env.EGRESS_LOG_LEVEL };
  if (env.EGRESS_RECORDINGS_DIR) {
    const storage = raw.storage ?? {};
    const local = typeof storage === 'object' && 'local' in storage ? storage.local : undefined;
    raw.storage = { ...storage, local: { ...(local ?? {}), directory: env.EGRESS_RECORDINGS_DIR } };
  }
  // Passwords from a Kubernetes Secret (the Helm chart's Redis with Sentinel); REDIS_URL's, below, wins.
  if (env.REDIS_PASSWORD) raw.redis = { ...(raw.redis ?? {}), password: env.REDIS_PASSWORD };
  if (env.REDIS_SENTINEL_PASSWORD) raw.redis = { ...(raw.redis ?? {}), sentinel_password: env.REDIS_SENTINEL_PASSWORD };
  if (env.REDIS_URL) {
    let url: URL;
    try {
      url = new URL(env.REDIS_URL);
    } catch {
      throw new ConfigError('env REDIS_URL: not a URL (expected redis://[user:password@]host:port[/db])');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError('env REDIS_URL: scheme must be redis:// or rediss://');
    const db = url.pathname.replace('/', '');
    raw.redis = {
      ...(raw.redis ?? {}),
      address: `${url.hostname}:${url.port || 6379}`,
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      use_tls: url.protocol === 'rediss:',
      ...(db ? { db: numberFromEnv('REDIS_URL db', db) } : {}),
    };
  }
}

function describeIssuePath(path: PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const raw = readYaml(env);
  applyEnv(raw, env);
  const ignoredKeys = takeUnusedKeys(raw);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = describeIssuePath(issue.path) || '(root)';
      return issue.code === 'unrecognized_keys'
        ? `unknown config key ${issue.keys.map((k) => (key === '(root)' ? k : `${key}.${k}`)).join(', ')}`
        : `config key ${key}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('; '));
  }
  const config = result.data;
  if (!config.tmp_dir) config.tmp_dir = join(tmpdir(), 'egress-queue');
  config.storage.local.directory = resolve(config.storage.local.directory);

  const apiKeys = new Map<string, string>(Object.entries(config.keys));
  if (config.api_key || config.api_secret) {
    if (!config.api_key) throw new ConfigError('config key api_key: required when api_secret is set');
    if (!config.api_secret) throw new ConfigError('config key api_secret: required when api_key is set');
    apiKeys.set(config.api_key, config.api_secret);
  }
  let usingDevKeys = false;
  if (apiKeys.size === 0) {
    if (!options.embedded) {
      throw new ConfigError('no API key configured: set api_key and api_secret (or env LIVEKIT_API_KEY and LIVEKIT_API_SECRET)');
    }
    apiKeys.set(DEV_API_KEY, DEV_API_SECRET);
    usingDevKeys = true;
    // The LiveKit server's key pair too: `npm run livekit` (livekit-server --dev) accepts it.
    config.api_key = DEV_API_KEY;
    config.api_secret = DEV_API_SECRET;
  }
  if (config.ws_url && !config.api_key) {
    throw new ConfigError(
      "config key ws_url: recording a room takes the LiveKit server's key pair: set api_key and api_secret (env LIVEKIT_API_KEY and LIVEKIT_API_SECRET); `keys` are only accepted on RPCs",
    );
  }
  const logging = { ...config.logging, json: config.logging.json ?? !(options.stdoutIsTTY ?? process.stdout.isTTY === true) };
  if (!config.host) config.host = options.embedded ? '127.0.0.1' : '0.0.0.0';
  const problem =
    bindingProblem(config.host, apiKeys, DEV_API_SECRET) ??
    trustProxyProblem(config.trust_proxy) ??
    redisSourceProblem(config.redis, !!env.REDIS_URL);
  if (problem) throw new ConfigError(problem);
  if (config.webhook.api_key && !apiKeys.has(config.webhook.api_key)) {
    throw new ConfigError(`config key webhook.api_key: "${config.webhook.api_key}" is not a configured API key`);
  }
  return Object.freeze({ ...config, logging, apiKeys, usingDevKeys, ignoredKeys });
}
