/**
 * One sealed JSON value per egress in Redis (shared/secret-box.ts: AES-256-GCM under `secrets_key`), with a
 * TTL: what a worker needs and nobody reading Redis, Bull Board or ListEgress may see. The egress's secrets
 * (stream URLs, storage credentials) and its request's webhook targets are each one of these.
 */
import type { Redis } from './redis.ts';
import type { SecretBox } from './secret-box.ts';

/** Sets KEYS[1] to ARGV[2] (TTL ARGV[3]) only while it still holds ARGV[1]. */
const CAS_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1`;

const CAS_ATTEMPTS = 50;

export interface SealedStoreOptions {
  /** Keys are `<namespace>:<egress id>`. */
  namespace: string;
  ttlSeconds: number;
  /** Also read a value written in the clear by a version that did not seal it yet (it expires with its TTL). */
  readsLegacyPlain?: boolean;
}

export class SealedStore<T> {
  readonly #redis: Redis;
  readonly #box: SecretBox;
  readonly #options: SealedStoreOptions;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, box: SecretBox, options: SealedStoreOptions) {
    this.#redis = redis;
    this.#box = box;
    this.#options = options;
    this.#ttlSeconds = Math.round(options.ttlSeconds);
  }

  #key = (egressId: string) => `${this.#options.namespace}:${egressId}`;

  #open(stored: string | null): T | undefined {
    if (stored === null) return undefined;
    const plain = this.#options.readsLegacyPlain && (stored.startsWith('[') || stored.startsWith('{'));
    return JSON.parse(plain ? stored : this.#box.open(stored)) as T;
  }

  async put(egressId: string, value: T): Promise<void> {
    await this.#redis.set(this.#key(egressId), this.#box.seal(JSON.stringify(value)), 'EX', this.#ttlSeconds);
  }

  async get(egressId: string): Promise<T | undefined> {
    return this.#open(await this.#redis.get(this.#key(egressId)));
  }

  /**
   * Read-modify-write, compare-and-set: concurrent updates each see the others' changes. `change` may run more
   * than once; a throw leaves the value as it was.
   */
  async update(egressId: string, change: (value: T | undefined) => T): Promise<T> {
    const key = this.#key(egressId);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const before = await this.#redis.get(key);
      const value = change(this.#open(before));
      const after = this.#box.seal(JSON.stringify(value));
      if (before === null) {
        if ((await this.#redis.set(key, after, 'EX', this.#ttlSeconds, 'NX')) === 'OK') return value;
      } else if ((await this.#redis.eval(CAS_SCRIPT, 1, key, before, after, this.#ttlSeconds)) === 1) {
        return value;
      }
    }
    throw new Error(`egress ${egressId}: too many concurrent updates of ${this.#options.namespace}`);
  }

  delete(egressId: string): Promise<number> {
    return this.#redis.del(this.#key(egressId));
  }
}
