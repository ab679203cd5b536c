/**
 * The service configuration: one typed object. Keys follow LiveKit egress's YAML where they mean the same
 * thing (api_key, api_secret, ws_url, redis, logging, storage, session_limits, cpu_cost, chrome_flags…).
 * Every key has its default here, next to its description; `docs/config.md` is generated from this file.
 */
import { z } from 'zod';
import { LEASE_RENEW_EVERY_MS, LEASE_SAFETY_MARGIN_MS, LEASE_TTL_MS } from '../lease/lease-timing.ts';

export const POOL_NAMES = ['room-composite', 'track-composite', 'track', 'upload', 'webhook'] as const;
export type PoolName = (typeof POOL_NAMES)[number];

const seconds = (def: number, description: string) => z.number().positive().default(def).describe(description);

/** `host:port` (`[v6]:port` for an IPv6 address), the port given. */
const hostPort = z
  .string()
  .max(300)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):([1-9]\d{0,4})$/, 'must be host:port')
  .refine((address) => Number(address.slice(address.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

const redisSchema = z
  .strictObject({
    address: z
      .string()
      .default('')
      .describe(
        'host:port of Redis. REDIS_URL (redis://user:pass@host:port/db) overrides it. Empty with no REDIS_URL: `npm start` runs a local redis-server.',
      ),
    username: z.string().default('').describe('Redis ACL user name.'),
    password: z.string().default('').describe("Redis password (env REDIS_PASSWORD; REDIS_URL's, when set, wins)."),
    db: z.number().int().min(0).default(0).describe('Redis database number.'),
    use_tls: z.boolean().default(false).describe('Connect to Redis with TLS (with Sentinel: to the Sentinels and the primary).'),
    prefix: z.string().default('egress').describe('Prefix of every Redis key and BullMQ queue this service uses.'),
    sentinel_master_name: z
      .string()
      .max(256)
      .default('')
      .describe(
        'Redis with Sentinel: the name the Sentinels know the primary by (`sentinel monitor <name> …`). Set, every connection asks sentinel_addresses for the primary and follows a failover; address (and REDIS_URL) must then be empty, and username, password, db and use_tls apply to the primary. At start the Sentinels that answer must know the name, or the service does not start.',
      ),
    sentinel_addresses: z
      .array(hostPort)
      .max(16)
      .default([])
      .describe('Redis with Sentinel: host:port of each Sentinel (at least one, with sentinel_master_name).'),
    sentinel_username: z.string().max(256).default('').describe('Redis with Sentinel: ACL user of the Sentinels, if they ask for one.'),
    sentinel_password: z
      .string()
      .max(1024)
      .default('')
      .describe('Redis with Sentinel: password of the Sentinels (their `requirepass`), if they ask for one (env REDIS_SENTINEL_PASSWORD).'),
  })
  .prefault({});

const localStorageSchema = z
  .strictObject({
    directory: z
      .string()
      .default('./recordings')
      .describe('Where recordings land when no cloud storage is configured. Relative paths resolve against the working directory.'),
  })
  .prefault({});

/** A Go-style duration as LiveKit writes it (`100ms`, `5s`, `1m30s`) or a number of milliseconds; in ms. */
const durationMs = (def: number, description: string) =>
  z
    .union([z.number().min(0), z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h))+$/, 'a duration such as 100ms, 5s or 1m')])
    .default(def)
    .transform((value) => (typeof value === 'number' ? value : goDurationMs(value)))
    .describe(`${description} A duration (\`5s\`, \`100ms\`) or milliseconds.`);

function goDurationMs(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const [, amount, , suffix] of text.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * unit[suffix!]!;
  return total;
}

const proxySchema = z
  .strictObject({
    url: z.string().default('').describe('Proxy URL (http://host:port).'),
    username: z.string().default('').describe('Proxy user.'),
    password: z.string().default('').describe('Proxy password.'),
  })
  .optional()
  .describe('HTTP proxy for this storage.');

const s3Schema = z
  .strictObject({
    access_key: z.string().default('').describe('Access key; empty: the AWS default credential chain (env, shared config, IMDS, IRSA).'),
    secret: z.string().default('').describe('Secret key.'),
    session_token: z.string().default('').describe('Session token of temporary credentials.'),
    region: z.string().default('').describe('Region; empty with no endpoint: found from the bucket.'),
    endpoint: z.string().default('').describe('An S3-compatible endpoint (MinIO, R2, versitygw, …); empty for AWS.'),
    bucket: z.string().default('').describe('Bucket.'),
    force_path_style: z.boolean().default(false).describe('Path-style URLs (<endpoint>/<bucket>/<key>), as most S3-compatible servers want.'),
    content_disposition: z.string().default('').describe('Content-Disposition of uploaded objects; default `inline`.'),
    proxy_config: proxySchema,
    max_retries: z.number().int().min(1).default(5).describe('Attempts per S3 request (also for per-request S3 uploads).'),
    max_retry_delay: durationMs(5000, 'Cap on the backoff between S3 attempts.'),
    min_retry_delay: durationMs(100, 'First backoff step between S3 attempts.'),
    aws_log_level: z.string().default('').describe('Accepted for LiveKit compatibility; unused.'),
  })
  .optional()
  .describe('S3 or S3-compatible storage.');

const gcpSchema = z
  .strictObject({
    credentials_json: z.string().default('').describe('Service-account JSON; empty: application-default credentials.'),
    bucket: z.string().default('').describe('Bucket.'),
    proxy_config: proxySchema,
    endpoint: z
      .string()
      .default('')
      .describe('Beyond LiveKit: API endpoint of an emulator or sovereign cloud (http://127.0.0.1:4443); also used by per-request GCP uploads.'),
  })
  .optional()
  .describe('Google Cloud Storage.');

const azureSchema = z
  .strictObject({
    account_name: z.string().default('').describe('Storage account.'),
    account_key: z.string().default('').describe('Account key.'),
    container_name: z.string().default('').describe('Blob container.'),
    endpoint: z
      .string()
      .default('')
      .describe(
        'Beyond LiveKit: blob service URL of Azurite or a sovereign cloud (http://127.0.0.1:10000/devstoreaccount1); also used by per-request Azure uploads.',
      ),
  })
  .optional()
  .describe('Azure Blob Storage.');

/** The cloud storages, as LiveKit's StorageConfig; at most one is used (s3, then gcp, then azure). */
const cloudStorageShape = {
  s3: s3Schema,
  gcp: gcpSchema,
  azure: azureSchema,
};

const storageSchema = z
  .strictObject({
    prefix: z.string().default('').describe('Prepended to every output path.'),
    generate_presigned_url: z
      .boolean()
      .default(false)
      .describe('Report 7-day presigned URLs as locations instead of plain object URLs (S3 and Azure; GCS with service-account credentials).'),
    ...cloudStorageShape,
    local: localStorageSchema,
  })
  .prefault({});

const backupSchema = z
  .strictObject({ prefix: z.string().default('').describe('Prepended to every path written to the backup storage.'), ...cloudStorageShape })
  .optional()
  .describe(
    'Where uploads go once the primary storage keeps failing (`backup_storage_used` in EgressInfo). Without one, a file that could not be uploaded stays on local disk.',
  );

const uploadSchema = z
  .strictObject({
    attempts: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Attempts of one upload job (each is itself a few retried requests) before the backup storage is used or the upload fails.'),
    backoff: z.number().int().min(0).default(2000).describe('First retry delay of an upload job, ms, doubling each attempt.'),
  })
  .prefault({});

const urlPolicySchema = z
  .strictObject({
    allow: z
      .array(z.string())
      .default([])
      .describe(
        'When not empty, the only hosts a request may make this service connect to (pages and everything they load, stream, WebSocket, webhook and storage URLs): host names (`*.example.com` for subdomains) or CIDRs. The LiveKit server (`ws_url`) and the built-in templates are always allowed to the room composite recorder.',
      ),
    deny: z
      .array(z.string())
      .default([])
      .describe(
        'Hosts denied besides the defaults (link-local 169.254.0.0/16 and fe80::/10, unspecified 0.0.0.0/8 and ::, the cloud metadata addresses and names are always denied): names or CIDRs.',
      ),
    deny_private: z
      .boolean()
      .default(false)
      .describe(
        'Also deny this host and non-public networks: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10), CGNAT 100.64/10, multicast, reserved, documentation and benchmarking ranges, `localhost` names, and every IPv6 form that embeds such an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo).',
      ),
    webrtc_udp: z
      .boolean()
      .default(true)
      .describe(
        "Let pages recorded in Chromium send WebRTC over UDP. UDP does not go through the policy proxy, so url_policy does not apply to it: a page's WebRTC (STUN, TURN over UDP, media to any ICE candidate) can reach every address and port the worker's network lets it reach, loopback, private and denied ones included; limit that with a firewall or network policy for the workers. false: Chromium runs with --webrtc-ip-handling-policy=disable_non_proxied_udp and sends no UDP; WebRTC goes over TCP only (ICE/TCP, TURN over TCP or TLS), through the proxy, where url_policy applies. Room composite with the built-in templates still records (the LiveKit server's ICE/TCP port, rtc.tcp_port, must be reachable).",
      ),
  })
  .prefault({});

const cost = (def: number, what: string) =>
  z.number().positive().default(def).describe(`Cores one ${what} is assumed to need until this node has measured it (LiveKit's default).`);

/** LiveKit's cpu_cost keys and defaults: here only the first estimate; admission follows measured use. */
const cpuCostSchema = z
  .strictObject({
    room_composite_cpu_cost: cost(4, 'room composite'),
    audio_room_composite_cpu_cost: cost(1, 'audio-only room composite'),
    sdk_audio_room_composite_cpu_cost: cost(1, 'audio-only room composite without Chrome'),
    web_cpu_cost: cost(4, 'web egress'),
    audio_web_cpu_cost: cost(1, 'audio-only web egress'),
    participant_cpu_cost: cost(2, 'participant egress'),
    track_composite_cpu_cost: cost(1, 'track composite egress'),
    track_cpu_cost: cost(0.5, 'track egress'),
    max_cpu_utilization: z
      .number()
      .gt(0)
      .max(1)
      .default(0.8)
      .describe("Share of the node's cores recordings may use; a worker takes a job only while the measured free share covers its cost."),
    max_memory: z.number().min(0).default(0).describe('GB of memory recordings may use on this node; 0 = not limited.'),
    memory_cost: z.number().min(0).default(0).describe('GB one recording is assumed to need until measured.'),
    memory_source: z.string().default('proc_rss').describe('Accepted for LiveKit compatibility (memory is read from /proc).'),
    max_pulse_clients: z.number().int().min(0).default(60).describe('Accepted for LiveKit compatibility.'),
    cpu_kill_grace_sec: z
      .number()
      .min(0)
      .default(30)
      .describe('When the node is overloaded, seconds the egress most over its budget gets to stop gracefully.'),
    memory_kill_grace_sec: z.number().min(0).default(0).describe('Accepted for LiveKit compatibility.'),
  })
  .prefault({});

const rateLimitsSchema = z
  .strictObject({
    start_per_minute: z
      .number()
      .int()
      .min(0)
      .default(600)
      .describe('Start RPCs each API key may make per minute (all kinds together); beyond, `resource_exhausted`. 0 = no limit.'),
    failed_auth_per_minute: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe(
        'Failed authentications (Twirp tokens, Bull Board passwords) one client address may make per minute; beyond, every request from it is answered 429 with Retry-After until the minute is over.',
      ),
  })
  .prefault({});

/**
 * What a Start request may ask of a worker, checked at the RPC (`invalid_argument` naming the field) so that
 * nothing a worker cannot honour is queued. Each key's own maximum is what the parts take: libopus refuses
 * more than 512 kbps; screens stop at 8K.
 */
export const limitsSchema = z
  .strictObject({
    max_width: z.number().int().min(16).max(7680).default(3840).describe('Widest screen or image a request may ask for, pixels.'),
    max_height: z.number().int().min(16).max(7680).default(3840).describe('Tallest screen or image a request may ask for, pixels.'),
    max_pixels: z
      .number()
      .int()
      .min(256)
      .max(7680 * 4320)
      .default(3840 * 2160)
      .describe('Largest width x height a request may ask for, screen or image (default: 4K UHD).'),
    max_framerate: z.number().int().min(1).max(240).default(60).describe('Highest frame rate a request may ask for.'),
    max_video_bitrate: z.number().int().min(1).default(20_000).describe('Highest video bitrate a request may ask for, kbps.'),
    max_audio_bitrate: z
      .number()
      .int()
      .min(1)
      .max(512)
      .default(512)
      .describe('Highest audio bitrate a request may ask for, kbps (at most 512: libopus takes no more).'),
    max_key_frame_interval: z.number().positive().default(60).describe('Longest key frame interval a request may ask for, seconds.'),
    max_segment_duration: z.number().int().min(1).default(600).describe('Longest HLS segment a request may ask for, seconds.'),
    max_capture_interval: z.number().int().min(1).default(3600).describe('Longest image capture interval a request may ask for, seconds.'),
    max_image_outputs: z.number().int().min(1).default(4).describe('Image outputs one request may have.'),
    max_stream_urls: z
      .number()
      .int()
      .min(1)
      .default(10)
      .describe('Stream URLs one egress may have at once (in its request, and after every UpdateStream).'),
    max_webhooks: z.number().int().min(0).default(5).describe('Webhooks one request may name.'),
    max_url_length: z
      .number()
      .int()
      .min(64)
      .default(4096)
      .describe('Longest URL a request may carry (pages, templates, streams, WebSockets, webhooks, storage endpoints and proxies), characters.'),
    max_name_length: z
      .number()
      .int()
      .min(64)
      .default(1024)
      .describe(
        "Longest other text a request may carry (room name, layout, identities, track ids, file paths and prefixes, playlist names, buckets…), characters. Credentials (keys, tokens, service-account JSON) may have up to 64 KiB. Storage keys these resolve to are also held to 1024 bytes (the S3, GCS and Azure limit) and, on the service storage, 255 bytes per path part (the file system's).",
      ),
  })
  .prefault({});

const webhookSchema = z
  .strictObject({
    api_key: z.string().default('').describe('API key whose secret signs webhooks (as in livekit-server). Default: api_key.'),
    allow_other_signing_keys: z
      .boolean()
      .default(false)
      .describe(
        "Let a request's webhook `signing_key` name any configured API key; false: only the caller's own key (else one caller could make webhooks that verify as another key's).",
      ),
    urls: z.array(z.url()).default([]).describe('URLs that receive egress_started, egress_updated and egress_ended.'),
    attempts: z.number().int().min(1).default(8).describe('Delivery attempts per webhook.'),
    backoff: z.number().int().min(0).default(1000).describe('First retry delay of a webhook delivery, ms, doubling each attempt.'),
    timeout: z.number().int().positive().default(5000).describe('HTTP timeout of one webhook delivery, ms.'),
  })
  .prefault({});

const concurrencySchema = z
  .strictObject({
    'room-composite': z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe(
        'At most this many web and room composite recordings in one worker process at once; fewer while the node has no room for more (cpu_cost).',
      ),
    'track-composite': z
      .number()
      .int()
      .min(1)
      .default(4)
      .describe('At most this many track composite and participant recordings at once (cpu_cost admits them).'),
    track: z.number().int().min(1).default(8).describe('At most this many track recordings at once (cpu_cost admits them).'),
    upload: z.number().int().min(1).default(4).describe('Uploads at once.'),
    webhook: z.number().int().min(1).default(8).describe('Webhook deliveries at once.'),
  })
  .prefault({});

const warmPoolSchema = z
  .strictObject({
    size: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe(
        'Warm stations (an Xvfb display, a PulseAudio sink and Chromium on about:blank with a fresh profile) each room-composite worker process keeps ready, so a web or room composite egress skips their launch (RPC → ACTIVE about 0.4 s instead of 1.1 s). A station serves one egress and is destroyed with its recording; a new one is made in the background. An idle station holds about 140 MB and well under 1 % of a core. 0 = none.',
      ),
  })
  .prefault({});

/**
 * Takeover of a recording whose worker was lost (issue 16): the lease each recording worker holds on its egress
 * and what happens when it lapses. Why these numbers: shared/lease/lease-timing.ts.
 */
const takeoverSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "When a recording's worker is lost (killed, node lost, cut off from Redis, frozen) and its lease lapses, another worker of the pool resumes the egress as a new part: the egress stays ACTIVE and an egress_updated webhook says it was resumed. false: the egress ends FAILED and what was recorded is salvaged, as when no worker takes it over within start_deadline.",
      ),
    lease_ttl: z
      .number()
      .min(1)
      .max(300)
      .default(LEASE_TTL_MS / 1000)
      .describe(
        'Seconds (1 to 300) a recording lease lives in Redis after its grant or last renewal: a lost worker is noticed within this, so it bounds the takeover gap. A Redis outage longer than lease_ttl − lease_safety_margin stops the recordings (they are then taken over).',
      ),
    lease_renew_interval: z
      .number()
      .positive()
      .default(LEASE_RENEW_EVERY_MS / 1000)
      .describe(
        'Seconds between renewals of a lease by its worker; must be shorter than lease_ttl − lease_safety_margin. About a third of lease_ttl lets one renewal fail without losing the lease.',
      ),
    lease_safety_margin: z
      .number()
      .min(0)
      .default(LEASE_SAFETY_MARGIN_MS / 1000)
      .describe(
        'Seconds before its lease can lapse at which a worker that could not renew it stops recording and writing (and the process watchdog kills the recording processes of a frozen worker): covers late timers, the time to stop, clock-rate drift.',
      ),
  })
  .refine((t) => t.lease_renew_interval < t.lease_ttl - t.lease_safety_margin, {
    message:
      'takeover.lease_renew_interval must be shorter than lease_ttl − lease_safety_margin (a renewal must be able to land before the worker stops)',
    path: ['lease_renew_interval'],
  })
  .prefault({});

const sessionLimitsSchema = z
  .strictObject({
    file_output_max_duration: z.number().min(0).default(0).describe('Seconds; 0 = unlimited.'),
    stream_output_max_duration: z.number().min(0).default(0).describe('Seconds; 0 = unlimited.'),
    segment_output_max_duration: z.number().min(0).default(0).describe('Seconds; 0 = unlimited.'),
    image_output_max_duration: z.number().min(0).default(0).describe('Seconds; 0 = unlimited.'),
    file_output_max_size: z.number().min(0).default(0).describe('Bytes; 0 = unlimited.'),
  })
  .prefault({});

export const configSchema = z.strictObject({
  api_key: z
    .string()
    .default('')
    .describe(
      "API key accepted on RPCs (env LIVEKIT_API_KEY); with api_secret also the LiveKit server's key pair, which room recorders join rooms with, so required with ws_url. Default: none; `npm start` with nothing configured uses devkey / secret for both, as `livekit-server --dev` (`npm run livekit`) does.",
    ),
  api_secret: z.string().default('').describe('Secret of api_key (env LIVEKIT_API_SECRET).'),
  keys: z.record(z.string(), z.string()).default({}).describe('More API keys: a map of key to secret.'),
  secrets_key: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes, base64')
    .or(z.literal(''))
    .default('')
    .describe('Key that seals secrets kept in Redis (stream URLs): 32 bytes, base64 (`openssl rand -base64 32`). Default: derived from api_secret.'),
  ws_url: z
    .string()
    .default('')
    .describe(
      'LiveKit server URL, for room-based egress (env LIVEKIT_URL or LIVEKIT_WS_URL). Needs api_key and api_secret: the service does not start without them.',
    ),
  template_base: z
    .string()
    .default('')
    .describe(
      'Base URL of the room composite templates when a request has no custom_base_url. Default: the built-in templates this service serves, http://127.0.0.1:<port>/templates/ (set it when workers do not run beside the API, e.g. http://api:8080/templates/).',
    ),
  port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port of the API (env EGRESS_PORT).'),
  health_port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(0)
    .describe(
      "HTTP port of a worker process's health endpoint (env EGRESS_HEALTH_PORT), on `host`; 0 = none. GET /healthz, for readiness: 200 while its Redis connection is ready and its pools run, 503 otherwise and while it drains. GET /livez, for liveness: 200 while the process runs (a Redis outage or a drain is no reason to restart it). Both answer a small JSON body. The API has its own /healthz on `port`.",
    ),
  host: z
    .string()
    .default('')
    .describe(
      "Address the API (and a worker's health_port) listens on (env EGRESS_HOST). Default: 127.0.0.1 for `npm start` with nothing configured, 0.0.0.0 otherwise. The development secret (`secret`, under any key name) is refused on any address but loopback: the service does not start.",
    ),
  trust_proxy: z
    .union([z.boolean(), z.string()])
    .default(false)
    .describe(
      "Trust X-Forwarded-For from these proxies (Fastify's trustProxy: true, or addresses/CIDRs, comma-separated) to find the client address that failed-authentication throttling counts. Default false: the peer address.",
    ),
  redis: redisSchema,
  logging: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level.'),
      json: z
        .boolean()
        .optional()
        .describe(
          'JSON lines (true) or human-readable lines (false). Default: human-readable when standard output is a terminal (`npm start` in a shell), JSON lines otherwise (a container, a pipe, a file).',
        ),
    })
    .prefault({}),
  pools: z
    .array(z.enum(POOL_NAMES))
    .default([...POOL_NAMES])
    .describe('Worker pools this process runs (env EGRESS_POOLS, comma-separated).'),
  concurrency: concurrencySchema,
  start_deadline: seconds(120, 'Seconds a request may wait in its queue for a free worker before it ends ABORTED.'),
  start_signal_timeout: seconds(60, 'Seconds a page has to log START_RECORDING when await_start_signal is set.'),
  max_duration: z
    .number()
    .min(0)
    .default(0)
    .describe(
      'Seconds after which every egress ends LIMIT_REACHED, unless a Start RPC sets its own with the X-Egress-Max-Duration header; 0 = none.',
    ),
  shutdown_grace: seconds(600, 'On SIGTERM, seconds running recordings may go on before they are stopped and finalized.'),
  egress_ttl: seconds(86_400, 'Seconds an ended egress stays listed by ListEgress.'),
  tmp_dir: z.string().default('').describe('Working directory for recordings in progress. Default: <os tmp>/egress-queue.'),
  enable_chrome_sandbox: z.boolean().default(false).describe('Run Chromium with its sandbox (needs SYS_ADMIN or a user namespace).'),
  insecure: z.boolean().default(false).describe('Let Chromium ignore certificate errors and mixed content.'),
  chrome_path: z.string().default('/usr/bin/chromium').describe('Chromium executable.'),
  chrome_flags: z
    .record(z.string(), z.union([z.string(), z.boolean(), z.number()]))
    .default({})
    .describe('Extra Chromium flags, name to value (true for a bare flag).'),
  ffmpeg_path: z.string().default('ffmpeg').describe('ffmpeg executable.'),
  warm_pool: warmPoolSchema,
  admission: z
    .boolean()
    .default(true)
    .describe('Take recording jobs only while the node has room for them by measured CPU and memory (cpu_cost); false: only the concurrency caps.'),
  cpu_cost: cpuCostSchema,
  url_policy: urlPolicySchema,
  rate_limits: rateLimitsSchema,
  limits: limitsSchema,
  storage: storageSchema,
  backup: backupSchema,
  upload: uploadSchema,
  webhook: webhookSchema,
  session_limits: sessionLimitsSchema,
  takeover: takeoverSchema,
});

export type Config = z.infer<typeof configSchema>;
/** What a YAML file may hold: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** The cloud storages of `storage` or `backup` (s3, gcp, azure), as LiveKit's StorageConfig. */
export type CloudStorageConfig = Pick<Config['storage'], 's3' | 'gcp' | 'azure'>;
