/**
 * The Helm chart, offline: `helm lint --strict` and `helm template` for the default values and the realistic
 * value sets in deploy/helm/egress-queue/ci/, every manifest validated by kubeconform against the Kubernetes,
 * KEDA and Prometheus-operator schemas vendored in test/deploy/schemas; then what the manifests must say for the
 * service to work there: the config the pods mount loads in the service's own loader, SIGTERM has the time
 * the drain takes, KEDA reads the API's backlog endpoint with each pool's concurrency as target, pods run as
 * non-root with a memory-backed /dev/shm for Chromium.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../shared/config/load.ts';
import { redisOptions } from '../../shared/redis.ts';
import { DRAIN_FINISH_SEC } from '../../shared/run-main.ts';
import { CHART_DIR, helmTools, lintChart, renderChart, validateManifests, type HelmTools, type Manifest, type Rendered } from '../support/helm-chart.ts';

const POOLS = ['room-composite', 'track-composite', 'track', 'upload', 'webhook'];
const RECORD_POOLS = ['room-composite', 'track-composite', 'track'];
const VALUE_SETS: { name: string; files: string[] }[] = [
  { name: 'default values', files: [] },
  { name: 'production with KEDA (ci/production-keda-values.yaml)', files: [`${CHART_DIR}/ci/production-keda-values.yaml`] },
  { name: 'CPU HPA without KEDA (ci/hpa-values.yaml)', files: [`${CHART_DIR}/ci/hpa-values.yaml`] },
  { name: 'single-node trial (ci/single-node-values.yaml)', files: [`${CHART_DIR}/ci/single-node-values.yaml`] },
  { name: 'Redis with Sentinel (ci/sentinel-values.yaml)', files: [`${CHART_DIR}/ci/sentinel-values.yaml`] },
];

const podSpec = (m: Manifest) => m.spec.template.spec;
const container = (m: Manifest) => podSpec(m).containers[0];
const envOf = (m: Manifest) => Object.fromEntries((container(m).env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
/** An env entry of the container as written (with its valueFrom). */
const envEntry = (m: Manifest, name: string) => (container(m).env ?? []).find((e: { name: string }) => e.name === name);
const workerDeployments = (r: Rendered) => r.all('Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] !== 'api');
const poolOf = (m: Manifest) => m.metadata.labels!['app.kubernetes.io/component']!;
const mountedConfig = (r: Rendered) => parse(r.get('ConfigMap', 'eq-egress-queue-config').data['config.yaml']) as Record<string, any>;

describe('Helm chart', { concurrency: false }, () => {
  let tools: HelmTools;
  before(async () => {
    tools = await helmTools();
  });

  for (const set of VALUE_SETS) {
    test(`${set.name}: helm lint passes, every manifest is valid against the schemas`, async () => {
      const lint = await lintChart(tools, set.files);
      assert.ok(lint.ok, lint.output);
      assert.match(lint.output, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      const rendered = await renderChart(tools, { valuesFiles: set.files });
      const result = await validateManifests(tools, rendered.text);
      assert.deepEqual(result.problems, []);
      assert.equal(result.valid, rendered.manifests.length);
      assert.ok(result.valid >= 15, `only ${result.valid} manifests`);
    });

    test(`${set.name}: the mounted config loads in the service, and SIGTERM gets the whole drain`, async () => {
      const rendered = await renderChart(tools, { valuesFiles: set.files });
      const config = mountedConfig(rendered);
      // The service's own loader, with what the pods' environment adds: the config must start the service.
      // Redis behind Sentinel: the config says where; the pods get no REDIS_URL.
      const redisEnv = config.redis?.sentinel_master_name ? { REDIS_PASSWORD: 'from-the-secret' } : { REDIS_URL: 'redis://redis:6379' };
      const env = { EGRESS_CONFIG_BODY: JSON.stringify(config), LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'a-secret-of-at-least-32-characters!', ...redisEnv };
      const loaded = loadConfig({ env });
      assert.ok(loaded.tmp_dir.startsWith('/recordings/'), 'recordings in progress on the shared volume');
      assert.equal(loaded.storage.local.directory, '/recordings');
      assert.match(loaded.template_base, /^http:\/\/eq-egress-queue-api\.egress\.svc:8080\/templates\/$/);

      const workers = workerDeployments(rendered);
      assert.ok(workers.length >= 3);
      for (const worker of workers) {
        const pool = poolOf(worker);
        assert.equal(envOf(worker).EGRESS_POOLS, pool, 'one pool per Deployment');
        // SIGTERM drains: recordings go on for shutdown_grace, then DRAIN_FINISH_SEC to finalize and hand over.
        const grace = podSpec(worker).terminationGracePeriodSeconds;
        assert.ok(grace > loaded.shutdown_grace + DRAIN_FINISH_SEC, `${pool}: terminationGracePeriodSeconds ${grace} ≤ shutdown_grace ${loaded.shutdown_grace} + ${DRAIN_FINISH_SEC}`);
        assert.equal(container(worker).lifecycle?.preStop, undefined, 'no preStop eating into the drain');
        assert.equal(podSpec(worker).shareProcessNamespace, true, 'a PID 1 that reaps orphans');
        assert.equal(worker.spec.strategy.rollingUpdate.maxUnavailable, 0);
        const mounts = Object.fromEntries(container(worker).volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
        assert.equal(mounts['/recordings'], 'recordings');
        const claim = podSpec(worker).volumes.find((v: { name: string }) => v.name === 'recordings').persistentVolumeClaim.claimName;
        assert.ok(claim, 'recordings on a claim every worker shares');
        if (pool === 'room-composite') {
          const shm = podSpec(worker).volumes.find((v: { name: string }) => v.name === mounts['/dev/shm']);
          assert.equal(shm?.emptyDir?.medium, 'Memory', 'Chromium gets a memory-backed /dev/shm');
        }
        assert.ok(container(worker).resources.requests.cpu && container(worker).resources.requests.memory, `${pool}: requests`);
        // The probes look where the worker listens: its health_port, from the env the pod gives it.
        const healthPort = loadConfig({ env: { ...env, EGRESS_HEALTH_PORT: envOf(worker).EGRESS_HEALTH_PORT } }).health_port;
        const ports = Object.fromEntries(container(worker).ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
        assert.ok(healthPort > 0 && ports.health === healthPort, `${pool}: health_port ${healthPort}, container port ${ports.health}`);
        assert.deepEqual(container(worker).readinessProbe.httpGet, { path: '/healthz', port: 'health' }, `${pool}: ready while Redis is and the pool runs, not while draining`);
        assert.deepEqual(container(worker).livenessProbe.httpGet, { path: '/livez', port: 'health' }, `${pool}: liveness never hangs on Redis or a drain`);
        assert.equal(container(worker).resources.limits?.cpu, undefined, `${pool}: no CPU limit (throttled encoders drop frames)`);
      }
    });
  }

  test('every pod runs as non-root with a read-only root filesystem, no privilege escalation and no capabilities', async () => {
    for (const set of VALUE_SETS) {
      const rendered = await renderChart(tools, { valuesFiles: set.files });
      for (const workload of [...rendered.all('Deployment'), ...rendered.all('StatefulSet')]) {
        const spec = podSpec(workload);
        assert.equal(spec.securityContext.runAsNonRoot, true, workload.metadata.name);
        assert.ok(spec.securityContext.runAsUser > 0, workload.metadata.name);
        assert.equal(spec.automountServiceAccountToken, false, workload.metadata.name);
        for (const c of spec.containers) {
          assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
          assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
          assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
        }
      }
    }
  });

  test('default values: the API probes /healthz, is scraped, and has a disruption budget like every pool', async () => {
    const rendered = await renderChart(tools);
    const api = rendered.get('Deployment', 'eq-egress-queue-api');
    assert.equal(container(api).readinessProbe.httpGet.path, '/healthz');
    assert.equal(container(api).livenessProbe.httpGet.path, '/', 'liveness does not hang on Redis: an outage is waited out');
    assert.ok(container(api).lifecycle.preStop.exec.command.includes('sleep'));
    assert.equal(api.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
    assert.equal(api.spec.template.metadata.annotations['prometheus.io/path'], '/metrics');
    const budgets = rendered.all('PodDisruptionBudget').map((p) => p.metadata.name).sort();
    assert.deepEqual(budgets, ['eq-egress-queue-api', ...POOLS.map((p) => `eq-egress-queue-${p}`)].sort());
    // The in-chart Redis: append-only, noeviction, a password from the Secret that the URL carries.
    const redis = rendered.get('StatefulSet', 'eq-egress-queue-redis');
    assert.deepEqual(container(redis).args.slice(0, 4), ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']);
    assert.equal(envOf(api).REDIS_URL, 'redis://:$(REDIS_PASSWORD)@eq-egress-queue-redis:6379');
    assert.match(rendered.get('Secret', 'eq-egress-queue-keys').data.REDIS_PASSWORD, /^[A-Za-z0-9+/]{40,}={0,2}$/);
  });

  test('KEDA (default): a ScaledObject per pool on the API\'s backlog endpoint, target = concurrency, recording pools from zero', async () => {
    const rendered = await renderChart(tools);
    const config = mountedConfig(rendered);
    const service = rendered.get('Service', 'eq-egress-queue-api');
    assert.equal(rendered.all('HorizontalPodAutoscaler').length, 0);
    const scaled = rendered.all('ScaledObject');
    assert.deepEqual(scaled.map((s) => s.spec.scaleTargetRef.name).sort(), POOLS.map((p) => `eq-egress-queue-${p}`).sort());
    for (const object of scaled) {
      const pool = poolOf(object);
      const [trigger] = object.spec.triggers;
      assert.equal(trigger.type, 'metrics-api');
      assert.equal(trigger.metricType, 'AverageValue', 'replicas = ceil(backlog / target)');
      assert.equal(trigger.metadata.url, `http://${service.metadata.name}.egress.svc:${service.spec.ports[0].port}/scaling/${pool}`);
      assert.equal(trigger.metadata.valueLocation, 'backlog');
      assert.equal(Number(trigger.metadata.targetValue), config.concurrency[pool]);
      assert.equal(trigger.metadata.activationTargetValue, '0', 'one waiting job wakes a pool at zero');
      assert.equal(object.spec.minReplicaCount, RECORD_POOLS.includes(pool) ? 0 : 1, pool);
      assert.ok(object.spec.cooldownPeriod >= 60 && object.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds >= 60);
      // Autoscaled Deployments leave replicas to the autoscaler (an upgrade must not reset them).
      assert.equal(rendered.get('Deployment', object.spec.scaleTargetRef.name).spec.replicas, undefined);
    }
  });

  test('a config override moves what the chart derives from it: KEDA target and termination grace', async () => {
    const rendered = await renderChart(tools, { set: { 'config.concurrency.room-composite': '3', 'config.shutdown_grace': '7200' } });
    const scaled = rendered.get('ScaledObject', 'eq-egress-queue-room-composite');
    assert.equal(scaled.spec.triggers[0].metadata.targetValue, '3');
    assert.equal(podSpec(rendered.get('Deployment', 'eq-egress-queue-room-composite')).terminationGracePeriodSeconds, 7200 + 60);
  });

  test('without KEDA: CPU HPAs with at least one replica; with no autoscaler: fixed replicas', async () => {
    const hpa = await renderChart(tools, { valuesFiles: [`${CHART_DIR}/ci/hpa-values.yaml`] });
    assert.equal(hpa.all('ScaledObject').length, 0);
    const hpas = hpa.all('HorizontalPodAutoscaler');
    assert.equal(hpas.length, POOLS.length);
    for (const h of hpas) {
      assert.ok(h.spec.minReplicas >= 1, 'an HPA cannot scale to zero');
      assert.equal(h.spec.metrics[0].resource.name, 'cpu');
    }
    // An existing Secret: the chart makes none and every container reads that one.
    assert.equal(hpa.all('Secret').length, 0);
    for (const d of hpa.all('Deployment')) assert.equal(container(d).envFrom[0].secretRef.name, 'egress-keys');

    const fixed = await renderChart(tools, { valuesFiles: [`${CHART_DIR}/ci/single-node-values.yaml`] });
    assert.equal(fixed.all('ScaledObject').length + fixed.all('HorizontalPodAutoscaler').length, 0);
    assert.deepEqual(workerDeployments(fixed).map((d) => [poolOf(d), d.spec.replicas]).sort(), [['room-composite', 1], ['upload', 1], ['webhook', 1]]);
  });

  test('production values: external Redis over TLS in the Secret, no in-chart Redis, Ingress with TLS, a ServiceMonitor', async () => {
    const rendered = await renderChart(tools, { valuesFiles: [`${CHART_DIR}/ci/production-keda-values.yaml`] });
    assert.equal(rendered.all('StatefulSet').length, 0);
    const secret = rendered.get('Secret', 'eq-egress-queue-keys');
    assert.equal(Buffer.from(secret.data.REDIS_URL, 'base64').toString(), 'rediss://egress:password@redis.example.com:6380/0');
    assert.equal(Buffer.from(secret.data.AWS_ACCESS_KEY_ID, 'base64').toString(), 'AKIAEXAMPLE');
    assert.ok(!rendered.get('ConfigMap', 'eq-egress-queue-config').data['config.yaml'].includes('password'), 'no key in the ConfigMap');
    assert.equal(rendered.get('Ingress', 'eq-egress-queue-api').spec.tls[0].secretName, 'egress-tls');
    assert.equal(rendered.get('ServiceMonitor', 'eq-egress-queue-api').spec.endpoints[0].path, '/metrics');
    assert.equal(rendered.get('ScaledObject', 'eq-egress-queue-room-composite').spec.triggers[0].metadata.targetValue, '1');
    assert.equal(rendered.all('PersistentVolumeClaim').length, 0, 'the existing RWX claim is used');
  });

  test('Redis with Sentinel: the pods find the primary through the Sentinels, passwords from the Secret\'s keys, no in-chart Redis, no REDIS_URL', async () => {
    const rendered = await renderChart(tools, { valuesFiles: [`${CHART_DIR}/ci/sentinel-values.yaml`] });
    assert.equal(rendered.all('StatefulSet').length, 0, 'no in-chart Redis');
    const configText = rendered.get('ConfigMap', 'eq-egress-queue-config').data['config.yaml'];
    assert.ok(!configText.includes('password'), 'no password in the ConfigMap');
    const secret = rendered.get('Secret', 'eq-egress-queue-keys');
    assert.deepEqual(Object.keys(secret.data).filter((k) => k.startsWith('REDIS')), [], 'the passwords stay in the Redis chart\'s Secret');
    for (const deployment of rendered.all('Deployment')) {
      assert.equal(envOf(deployment).REDIS_URL, undefined, deployment.metadata.name);
      for (const name of ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']) {
        assert.deepEqual(envEntry(deployment, name)?.valueFrom, { secretKeyRef: { name: 'redis', key: 'redis-password' } }, `${deployment.metadata.name}: ${name}`);
      }
    }
    // What every connection of the service is made from, with the pods' environment.
    const loaded = loadConfig({
      env: { EGRESS_CONFIG_BODY: configText, LIVEKIT_API_KEY: 'key', LIVEKIT_API_SECRET: 'a-secret-of-at-least-32-characters!', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'pw' },
    });
    const options = redisOptions(loaded);
    assert.equal(options.name, 'mymaster');
    assert.deepEqual(options.sentinels, [0, 1, 2].map((i) => ({ host: `redis-node-${i}.redis-headless`, port: 26379 })));
    assert.deepEqual([options.password, options.sentinelPassword, options.db, options.host], ['pw', 'pw', 1, undefined]);
  });

  test('worker probes: on by default, on the port the worker listens on; `workerProbes.enabled: false` leaves no endpoint and no probe', async () => {
    const rendered = await renderChart(tools);
    for (const worker of workerDeployments(rendered)) {
      assert.equal(envOf(worker).EGRESS_HEALTH_PORT, '8081');
      assert.equal(container(worker).startupProbe.httpGet.path, '/livez');
    }
    const off = await renderChart(tools, { set: { 'workerProbes.enabled': 'false' } });
    for (const worker of workerDeployments(off)) {
      const c = container(worker);
      assert.deepEqual([c.readinessProbe, c.livenessProbe, c.startupProbe, c.ports, envOf(worker).EGRESS_HEALTH_PORT], [undefined, undefined, undefined, undefined, undefined], poolOf(worker));
    }
    assert.equal((await validateManifests(tools, off.text)).invalid, 0);
  });

  test('the checks bite: kubeconform rejects a wrong field, and values no Redis can come from are refused', async () => {
    const rendered = await renderChart(tools);
    const broken = rendered.text.replace('minReplicaCount: 0', 'minReplicaCount: zero').replace('terminationGracePeriodSeconds: 600', 'terminationGracePeriodSecond: 600');
    const result = await validateManifests(tools, broken);
    assert.equal(result.invalid, 2, result.problems.join('\n'));
    assert.ok(result.problems.some((p) => p.startsWith('ScaledObject/') && p.includes('minReplicaCount')));
    assert.ok(result.problems.some((p) => p.startsWith('Deployment/') && p.includes('terminationGracePeriodSecond')));
    await assert.rejects(renderChart(tools, { set: { 'redis.internal.enabled': 'false' } }), /redis: set redis.external.url/);
    await assert.rejects(renderChart(tools, { set: { 'autoscaling.engin': 'keda' } }), /additional properties 'engin' not allowed/);
    // Half a Sentinel, or two Redis sources, are refused; so is a Sentinel address without its port.
    await assert.rejects(renderChart(tools, { set: { 'redis.sentinel.masterName': 'mymaster' } }), /redis\.sentinel\.addresses: required/);
    await assert.rejects(renderChart(tools, { set: { 'redis.sentinel.addresses[0]': 'sentinel:26379' } }), /redis\.sentinel\.masterName: required/);
    await assert.rejects(
      renderChart(tools, { set: { 'redis.sentinel.masterName': 'm', 'redis.sentinel.addresses[0]': 's:26379', 'redis.external.url': 'redis://r:6379' } }),
      /set redis\.external\.url or redis\.sentinel, not both/,
    );
    await assert.rejects(renderChart(tools, { set: { 'redis.sentinel.masterName': 'm', 'redis.sentinel.addresses[0]': 'sentinel' } }), /addresses\/0.*does not match pattern/);
  });
});
