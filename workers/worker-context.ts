/** What the worker pools of one process share on top of the service context. */
import type { ServiceContext } from '../shared/context.ts';
import type { ControlSubscriber } from '../shared/control.ts';
import type { Recording } from './recording/recorder-contract.ts';
import type { WarmPool } from './web/warm-pool.ts';

export interface WorkerContext extends ServiceContext {
  /** Receives StopEgress and other control messages for the egresses this process runs. */
  subscriber: ControlSubscriber;
  /** The recordings this process runs now, by egress id: SIGTERM drains them. */
  running: Map<string, Recording>;
  /** Identifies this process as the holder of recording leases, and in logs. */
  workerId: string;
  /** Ready displays, sinks and browsers for page recordings (config warm_pool), when this process runs room-composite. */
  warmPool?: WarmPool;
}
