/**
 * What KEDA and the HorizontalPodAutoscaler it drives decide for a ScaledObject, from the documented formulas,
 * as a pure function of time, current replicas and the trigger's metric:
 *
 * - KEDA (scale executor): the trigger is active while its metric > activationTargetValue. At 0 replicas an
 *   active trigger scales to max(minReplicaCount, 1); with minReplicaCount 0, once the trigger has been
 *   inactive for cooldownPeriod seconds since it last was active, to 0. Otherwise the HPA decides.
 * - HPA, external metric with an AverageValue target: usageRatio = metric / (target × current); within the
 *   0.1 tolerance nothing changes, else desired = ceil(metric / target). Then behavior: the stabilization
 *   windows (scale up to the lowest, down to the highest recommendation within each window), the rate
 *   policies (Pods / Percent per periodSeconds, selectPolicy), and [max(minReplicaCount, 1), maxReplicaCount].
 *
 * The spec is read from a ScaledObject as the Helm chart renders it (scalingSpecOf).
 */
import type { Manifest } from './helm-chart.ts';

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface ScalingSpec {
  pollingIntervalSec: number;
  cooldownPeriodSec: number;
  minReplicas: number;
  maxReplicas: number;
  /** targetValue: the metric one replica is sized for. */
  target: number;
  activationTarget: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  /** The trigger's URL path (on the API) and where the value is in its JSON. */
  path: string;
  valueLocation: string;
}

/** Kubernetes' defaults where a ScaledObject says nothing. */
const DEFAULT_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Percent', value: 100, periodSeconds: 15 },
    { type: 'Pods', value: 4, periodSeconds: 15 },
  ],
};
const DEFAULT_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};
const TOLERANCE = 0.1;

export function scalingSpecOf(scaledObject: Manifest): ScalingSpec {
  const spec = scaledObject.spec;
  const trigger = spec.triggers.find((t: { type: string }) => t.type === 'metrics-api');
  if (!trigger || trigger.metricType !== 'AverageValue') throw new Error('a metrics-api trigger with metricType AverageValue');
  const behavior = spec.advanced?.horizontalPodAutoscalerConfig?.behavior ?? {};
  const rules = (given: Partial<ScalingRules> | undefined, defaults: ScalingRules): ScalingRules => ({ ...defaults, ...given });
  return {
    pollingIntervalSec: spec.pollingInterval ?? 30,
    cooldownPeriodSec: spec.cooldownPeriod ?? 300,
    minReplicas: spec.minReplicaCount ?? 0,
    maxReplicas: spec.maxReplicaCount ?? 100,
    target: Number(trigger.metadata.targetValue),
    activationTarget: Number(trigger.metadata.activationTargetValue ?? 0),
    scaleUp: rules(behavior.scaleUp, DEFAULT_UP),
    scaleDown: rules(behavior.scaleDown, DEFAULT_DOWN),
    path: new URL(trigger.metadata.url).pathname,
    valueLocation: trigger.metadata.valueLocation,
  };
}

export class KedaScaling {
  private readonly spec: ScalingSpec;
  private lastActiveAtMs = -Infinity;
  private recommendations: { atMs: number; replicas: number }[] = [];
  private events: { atMs: number; change: number }[] = [];

  constructor(spec: ScalingSpec) {
    this.spec = spec;
  }

  /** The replicas for now; a change is remembered as a scale event (the rate policies count them). */
  decide(nowMs: number, current: number, metric: number): number {
    const next = this.next(nowMs, current, metric);
    if (next !== current) this.events.push({ atMs: nowMs, change: next - current });
    return next;
  }

  private next(nowMs: number, current: number, metric: number): number {
    const { spec } = this;
    const active = metric > spec.activationTarget;
    if (active) this.lastActiveAtMs = nowMs;
    if (current === 0) return active ? Math.max(spec.minReplicas, 1) : spec.minReplicas;
    if (!active && spec.minReplicas === 0 && nowMs - this.lastActiveAtMs >= spec.cooldownPeriodSec * 1000) {
      this.recommendations = [];
      return 0;
    }
    return this.hpa(nowMs, current, metric);
  }

  private hpa(nowMs: number, current: number, metric: number): number {
    const { spec } = this;
    const ratio = metric / (spec.target * current);
    const recommended = Math.abs(1 - ratio) <= TOLERANCE ? current : Math.ceil(metric / spec.target);
    const stabilized = this.stabilize(nowMs, current, recommended);
    const limited =
      stabilized > current
        ? Math.min(stabilized, this.upLimit(nowMs, current))
        : stabilized < current
          ? Math.max(stabilized, this.downLimit(nowMs, current))
          : stabilized;
    return Math.min(spec.maxReplicas, Math.max(Math.max(spec.minReplicas, 1), limited));
  }

  /** Up to the lowest recommendation within the scale-up window, down to the highest within the scale-down one. */
  private stabilize(nowMs: number, current: number, recommended: number): number {
    this.recommendations.push({ atMs: nowMs, replicas: recommended });
    const longest = Math.max(this.spec.scaleUp.stabilizationWindowSeconds, this.spec.scaleDown.stabilizationWindowSeconds) * 1000;
    this.recommendations = this.recommendations.filter((r) => nowMs - r.atMs <= longest);
    const within = (sec: number) => this.recommendations.filter((r) => nowMs - r.atMs <= sec * 1000).map((r) => r.replicas);
    const up = Math.min(...within(this.spec.scaleUp.stabilizationWindowSeconds));
    const down = Math.max(...within(this.spec.scaleDown.stabilizationWindowSeconds));
    return current < up ? up : current > down ? down : current;
  }

  private changedWithin(nowMs: number, periodSec: number, sign: 1 | -1): number {
    return this.events
      .filter((e) => nowMs - e.atMs < periodSec * 1000 && Math.sign(e.change) === sign)
      .reduce((sum, e) => sum + Math.abs(e.change), 0);
  }

  private upLimit(nowMs: number, current: number): number {
    const rules = this.spec.scaleUp;
    if (rules.selectPolicy === 'Disabled') return current;
    const limits = rules.policies.map((p) => {
      const start = current - this.changedWithin(nowMs, p.periodSeconds, 1);
      return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    });
    return rules.selectPolicy === 'Min' ? Math.min(...limits) : Math.max(...limits);
  }

  private downLimit(nowMs: number, current: number): number {
    const rules = this.spec.scaleDown;
    if (rules.selectPolicy === 'Disabled') return current;
    const limits = rules.policies.map((p) => {
      const start = current + this.changedWithin(nowMs, p.periodSeconds, -1);
      return p.type === 'Pods' ? start - p.value : Math.ceil(start * (1 - p.value / 100));
    });
    return rules.selectPolicy === 'Min' ? Math.max(...limits) : Math.min(...limits);
  }
}
