/**
 * The redis-server of a lease test suite (shared/lease/), started before its tests and stopped after them, with
 * a direct client and EgressLeases over it: what every lease test sets up the same way.
 */
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

export interface LeaseRedis {
  server: RedisServer;
  /** A client straight to the server (never behind a proxy). */
  redis: Redis;
  leases: EgressLeases;
}

/** Call inside a describe(): its fields are set once the suite's before() hooks have run. */
export function leaseRedis(prefix: string): LeaseRedis {
  const suite = {} as LeaseRedis;
  before(async () => {
    suite.server = await startRedis();
    suite.redis = new Redis(suite.server.port, '127.0.0.1', { maxRetriesPerRequest: null });
    suite.leases = new EgressLeases(suite.redis, prefix);
  });
  after(async () => {
    suite.redis?.disconnect();
    await suite.server?.stop();
  });
  return suite;
}
