/**
 * One part of a recording in a process of its own, as a worker records it (the session, its outputs and its
 * recorder: workers/recording/session.ts), for tests that cut it as a lost worker is cut: SIGKILL to it and to
 * every process it started, nothing finalized. It joins the test service through the config environment,
 * reads the egress's plan from its queued record job, and prints `{"event":"recording"}` once started.
 * Arguments: <egress id> [<part> <lost at, unix ms>].
 */
import { pino } from 'pino';
import { loadConfig } from '../../shared/config/load.ts';
import { createServiceContext } from '../../shared/context.ts';
import { ControlSubscriber } from '../../shared/control.ts';
import { RECORD_QUEUES } from '../../shared/queues.ts';
import { createRedis } from '../../shared/redis.ts';
import { runRecording } from '../../workers/recording/session.ts';
import type { WorkerContext } from '../../workers/worker-context.ts';

const [egressId, part, lostAtMs] = process.argv.slice(2);
const config = loadConfig({ env: process.env });
const log = pino({ level: config.logging.level });
const base = createServiceContext(config, log, 'recording-part');
const ctx: WorkerContext = {
  ...base,
  subscriber: new ControlSubscriber(createRedis(config, 'recording-part:control'), base.control),
  running: new Map(),
  workerId: `recording-part-${process.pid}`,
};
const jobs = await Promise.all(RECORD_QUEUES.map((queue) => ctx.queues.get(queue).getJob(egressId!)));
const plan = jobs.find((job) => job !== undefined)?.data.plan;
if (!plan) throw new Error(`no record job for ${egressId}`);
process.stdout.write(`${JSON.stringify({ event: 'recording' })}\n`);
const takeover = part ? { takeover: { part: Number(part), lostAtMs: Number(lostAtMs) } } : {};
const outcome = await runRecording(ctx, plan, log, takeover);
process.stdout.write(`${JSON.stringify({ event: 'recorded', outcome })}\n`);
await ctx.close();
process.exit(0);
