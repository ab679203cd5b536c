/**
 * The scaling formula the autoscaler simulation applies (test/support/keda-formula.ts), on the cases KEDA's
 * and Kubernetes' documentation work through: activation from zero, ceil(metric / target), the 0.1
 * tolerance, the scale-up rate policies, the scale-down stabilization window, the cool-down to zero, the bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KedaScaling, type ScalingSpec } from '../support/keda-formula.ts';

const SEC = 1000;
const spec = (overrides: Partial<ScalingSpec> = {}): ScalingSpec => ({
  pollingIntervalSec: 5,
  cooldownPeriodSec: 300,
  minReplicas: 0,
  maxReplicas: 10,
  target: 2,
  activationTarget: 0,
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  },
  scaleDown: { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
  path: '/scaling/room-composite',
  valueLocation: 'backlog',
  ...overrides,
});

describe('KEDA + HPA scaling formula', () => {
  test('at zero replicas: nothing waiting stays at 0; one waiting job activates 1 replica, whatever the target', () => {
    const keda = new KedaScaling(spec());
    assert.equal(keda.decide(0, 0, 0), 0);
    assert.equal(keda.decide(5 * SEC, 0, 1), 1);
    assert.equal(new KedaScaling(spec({ minReplicas: 2 })).decide(0, 0, 0), 2, 'minReplicaCount holds at idle');
  });

  test('then the HPA: ceil(backlog / target) per replica, within the 0.1 tolerance no change', () => {
    const keda = new KedaScaling(spec());
    assert.equal(keda.decide(0, 1, 6), 3);
    assert.equal(keda.decide(5 * SEC, 3, 6.5), 3, 'ratio 1.08: within tolerance');
    assert.equal(keda.decide(10 * SEC, 3, 7), 4, 'ratio 1.17: ceil(7 / 2)');
    assert.equal(keda.decide(15 * SEC, 4, 100), 7, 'rate policy: 4 pods or 100 % per 15 s, the larger, from the 3 there were 15 s ago');
    assert.equal(keda.decide(40 * SEC, 8, 100), 10, 'maxReplicaCount');
  });

  test('scale-up policies count what was added in their period', () => {
    const keda = new KedaScaling(spec({ target: 1, maxReplicas: 100 }));
    assert.equal(keda.decide(0, 1, 40), 5, 'from 1: max(1 + 100 %, 1 + 4)');
    assert.equal(keda.decide(5 * SEC, 5, 40), 5, 'the period still counts the 4 just added');
    assert.equal(keda.decide(16 * SEC, 5, 40), 10, 'a new period: max(5 + 100 %, 5 + 4)');
  });

  test('scale-down waits for the stabilization window; back to zero only after the cool-down', () => {
    const keda = new KedaScaling(spec({ cooldownPeriodSec: 60, scaleDown: { stabilizationWindowSeconds: 30, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } }));
    assert.equal(keda.decide(0, 1, 8), 4);
    assert.equal(keda.decide(10 * SEC, 4, 2), 4, 'a recommendation of 4 is within the window');
    assert.equal(keda.decide(31 * SEC, 4, 2), 1, 'the window has passed: ceil(2 / 2)');
    assert.equal(keda.decide(40 * SEC, 1, 0), 1, 'backlog gone: the HPA keeps 1');
    assert.equal(keda.decide(85 * SEC, 1, 0), 1, '54 s since last active (31 s): still cooling down');
    assert.equal(keda.decide(91 * SEC, 1, 0), 0, '60 s cool-down: to zero');
    assert.equal(keda.decide(100 * SEC, 0, 0), 0);
  });

  test('minReplicaCount 1: never to zero; the HPA alone cannot go below 1', () => {
    const keda = new KedaScaling(spec({ minReplicas: 1, cooldownPeriodSec: 0, scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } }));
    assert.equal(keda.decide(0, 3, 0), 1);
    assert.equal(keda.decide(SEC, 1, 0), 1);
  });
});
