/**
 * The room-composite pool as the Helm chart deploys it, on this machine: the chart rendered with the given
 * values; the test service (real Redis, the API, the upload and webhook pools) on the config the chart mounts
 * (concurrency, shutdown_grace, start_deadline); room-composite workers as real processes in a
 * WorkerDeployment with the chart's terminationGracePeriodSeconds, from zero, scaled by a simulated KEDA
 * reading the chart's ScaledObject's trigger on the API.
 */
import { parse } from 'yaml';
import { scalingSpecOf, type ScalingSpec } from './keda-formula.ts';
import { helmTools, renderChart } from './helm-chart.ts';
import { startService, type TestService } from './service.ts';
import { SimulatedKeda } from './simulated-keda.ts';
import { WorkerDeployment } from './worker-deployment.ts';
import { spawnWorker } from './worker-process.ts';

export const SIMULATION_VALUES = new URL('../deploy/simulation-values.yaml', import.meta.url).pathname;
const POOL = 'room-composite';

export interface ScaledPool {
  service: TestService;
  deployment: WorkerDeployment;
  keda: SimulatedKeda;
  spec: ScalingSpec;
  /** The service config the chart mounts. */
  chartConfig: Record<string, any>;
  /** Stops the autoscaler, drains every worker (SIGTERM) and stops the service. */
  stop(): Promise<void>;
}

/** `set` overrides chart values (helm --set); `serviceYaml` is merged over the chart's config (e.g. warm_pool, logging). */
export async function startScaledPool(options: { set?: Record<string, string>; serviceYaml?: Record<string, unknown> } = {}): Promise<ScaledPool> {
  const rendered = await renderChart(await helmTools(), { valuesFiles: [SIMULATION_VALUES], set: options.set ?? {} });
  const chartConfig = parse(rendered.all('ConfigMap')[0]!.data['config.yaml']) as Record<string, any>;
  const scaledObject = rendered.all('ScaledObject').find((s) => s.spec.scaleTargetRef.name.endsWith(`-${POOL}`))!;
  const spec = scalingSpecOf(scaledObject);
  const { terminationGracePeriodSeconds } = rendered.get('Deployment', scaledObject.spec.scaleTargetRef.name).spec.template.spec;
  const service = await startService({
    pools: ['upload', 'webhook'],
    concurrency: chartConfig.concurrency,
    shutdown_grace: chartConfig.shutdown_grace,
    start_deadline: chartConfig.start_deadline,
    ...options.serviceYaml,
  });
  const deployment = new WorkerDeployment(() => spawnWorker(service, [POOL]), { terminationGracePeriodSeconds });
  const keda = new SimulatedKeda({ spec, apiUrl: service.url, deployment });
  keda.start();
  return {
    service,
    deployment,
    keda,
    spec,
    chartConfig,
    async stop() {
      keda.stop();
      deployment.scaleTo(0);
      await deployment.exited((chartConfig.shutdown_grace + 30) * 1000).catch(() => undefined);
      await service.stop();
    },
  };
}
