/**
 * A lease owner in a process of its own, for tests that freeze it (SIGSTOP): a frozen process runs no timer,
 * which no in-process stand-in can show. It acquires the lease on an egress and keeps it (LeaseKeeper), and
 * reports on stdout, one JSON object a line: {"event":"acquired","token"}, {"event":"lost","reason"}, and, for
 * each stdin line `write <key> <value>`, the fenced SET it made regardless of what its keeper says (a late write):
 * {"event":"write","result"}. Arguments: <redis port> <prefix> <egress id> <holder id> <ttl ms>.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { EgressLeases } from '../../shared/lease/egress-lease.ts';
import { fencedSet } from '../../shared/lease/fenced-write.ts';
import { LeaseKeeper } from '../../shared/lease/lease-keeper.ts';

const [port, prefix, egressId, holderId, ttlMs] = process.argv.slice(2);
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

const redis = new Redis({ host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null });
const leases = new EgressLeases(redis, prefix!);
const grant = await leases.acquire(egressId!, holderId!, Number(ttlMs));
if (!grant.ok) {
  say({ event: 'refused', holder: grant.holder });
  process.exit(1);
}
const keeper = new LeaseKeeper(leases, grant, { onLost: (reason) => say({ event: 'lost', reason }) });
say({ event: 'acquired', token: grant.lease.token });

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [command, key, value] = line.split(' ');
  if (command !== 'write' || !key || value === undefined) return;
  fencedSet(redis, leases.fence(grant.lease), key, value).then(
    (result) => say({ event: 'write', result }),
    (err: Error) => say({ event: 'write', error: err.message }),
  );
});
input.on('close', () => {
  keeper.stop();
  redis.disconnect();
});
