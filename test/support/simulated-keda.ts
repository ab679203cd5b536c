/**
 * KEDA in a test: every pollingInterval it reads the trigger a ScaledObject names — the real endpoint of the
 * running API, `GET <path>`, the value at `valueLocation` — decides the replicas by KEDA's and the HPA's
 * formulas (keda-formula.ts) and scales a WorkerDeployment of real worker processes to them. One loop stands
 * for both KEDA's polling and the HPA's sync (15 s in a cluster). A failed read changes nothing, as KEDA
 * without a fallback. `history` keeps every decision.
 */
import { KedaScaling, type ScalingSpec } from './keda-formula.ts';
import type { WorkerDeployment } from './worker-deployment.ts';

export interface Decision {
  atMs: number;
  metric: number | undefined;
  replicas: number;
}

export class SimulatedKeda {
  readonly history: Decision[] = [];
  private readonly scaling: KedaScaling;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly spec: ScalingSpec;
  private readonly apiUrl: string;
  private readonly deployment: WorkerDeployment;

  constructor(options: { spec: ScalingSpec; apiUrl: string; deployment: WorkerDeployment }) {
    this.spec = options.spec;
    this.apiUrl = options.apiUrl;
    this.deployment = options.deployment;
    this.scaling = new KedaScaling(options.spec);
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.spec.pollingIntervalSec * 1000);
    void this.poll();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The highest replica count decided so far. */
  get peak(): number {
    return Math.max(0, ...this.history.map((d) => d.replicas));
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const metric = await this.readMetric().catch(() => undefined);
      const current = this.deployment.replicas;
      const replicas = metric === undefined ? current : this.scaling.decide(Date.now(), current, metric);
      this.history.push({ atMs: Date.now(), metric, replicas });
      if (replicas !== current) this.deployment.scaleTo(replicas);
    } finally {
      this.busy = false;
    }
  }

  private async readMetric(): Promise<number> {
    const res = await fetch(`${this.apiUrl}${this.spec.path}`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`${this.spec.path}: HTTP ${res.status}`);
    // valueLocation is a GJSON path; the chart's is a plain (dotted) key.
    let value: unknown = await res.json();
    for (const key of this.spec.valueLocation.split('.')) value = (value as Record<string, unknown>)[key];
    if (typeof value !== 'number') throw new Error(`${this.spec.valueLocation}: not a number`);
    return value;
  }
}
