/**
 * Vendors the JSON schemas kubeconform validates the Helm chart's manifests against (test/deploy/), only those
 * of the kinds the chart renders, into test/deploy/schemas/. Run by hand when a version below changes:
 *
 *   node scripts/k8s-schemas.ts
 *
 * Sources come from the Go module proxy (`go mod download`; nothing is built): Kubernetes' OpenAPI v2 document
 * (k8s.io/kubernetes, api/openapi-spec/swagger.json) and the CRDs that KEDA and the Prometheus operator ship.
 * Converted as kubeconform's own schemas are made:
 * - built-in kinds as openapi2jsonschema --expanded --kubernetes --stand-alone --strict does (every $ref
 *   inlined, apiVersion and kind pinned, `additionalProperties: false` on every object, int-or-string and
 *   quantities as either type, optional fields nullable), into kubernetes/v<version>-standalone-strict/
 *   <kind>-<group>-<version>.json;
 * - CRDs as kubeconform's scripts/openapi2jsonschema.py does (each version's openAPIV3Schema,
 *   `additionalProperties: false` below the root), into crds/<group>/<kind>_<version>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const KUBERNETES_VERSION = '1.34.4';
const KEDA_VERSION = 'v2.20.2';
const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';

/** The built-in kinds the chart renders: swagger definition names. */
const KINDS = [
  'io.k8s.api.apps.v1.Deployment',
  'io.k8s.api.apps.v1.StatefulSet',
  'io.k8s.api.core.v1.Service',
  'io.k8s.api.core.v1.ConfigMap',
  'io.k8s.api.core.v1.Secret',
  'io.k8s.api.core.v1.ServiceAccount',
  'io.k8s.api.core.v1.PersistentVolumeClaim',
  'io.k8s.api.networking.v1.Ingress',
  'io.k8s.api.policy.v1.PodDisruptionBudget',
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
];
/** CRD files, by Go module and path inside it. */
const CRDS: [module: string, path: string][] = [
  [`github.com/kedacore/keda/v2@${KEDA_VERSION}`, 'config/crd/bases/keda.sh_scaledobjects.yaml'],
  [
    `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}`,
    'example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml',
  ],
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const isObject = (v: Json | undefined): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** kubectl's strictness: every object schema with properties allows no others (the root too unless `skipRoot`). */
export function denyAdditionalProperties(data: Json, skipRoot = false): Json {
  if (!isObject(data)) return data;
  if ('properties' in data && !skipRoot && !('additionalProperties' in data)) data.additionalProperties = false;
  for (const value of Object.values(data)) {
    if (Array.isArray(value)) value.forEach((item) => denyAdditionalProperties(item));
    else denyAdditionalProperties(value);
  }
  return data;
}

/** `format: int-or-string` → a string or an integer. */
export function replaceIntOrString(data: Json): Json {
  if (Array.isArray(data)) return data.map(replaceIntOrString);
  if (!isObject(data)) return data;
  const out: Schema = {};
  for (const [key, value] of Object.entries(data)) {
    out[key] = isObject(value) && value.format === 'int-or-string' ? { oneOf: [{ type: 'string' }, { type: 'integer' }] } : replaceIntOrString(value);
  }
  return out;
}

/** openapi2jsonschema's allow_null_optional_fields: a type is nullable unless its object names required fields. */
export function allowNullOptionalFields(data: Json, parent?: Json, grandParent?: Json): Json {
  if (!isObject(data)) return data;
  const out: Schema = {};
  for (const [key, value] of Object.entries(data)) {
    if (isObject(value)) out[key] = allowNullOptionalFields(value, data, parent);
    else if (Array.isArray(value)) out[key] = value.map((item) => allowNullOptionalFields(item, value, parent));
    else if (key === 'type' && typeof value === 'string' && value !== 'null' && !(isObject(grandParent) && 'required' in grandParent))
      out[key] = [value, 'null'];
    else out[key] = value;
  }
  return out;
}

/** Every `$ref` replaced by what it names, recursively (stand-alone). A cycle is an error: none of KINDS has one. */
function inline(data: Json, definitions: Schema, path: string[] = []): Json {
  if (Array.isArray(data)) return data.map((item) => inline(item, definitions, path));
  if (!isObject(data)) return data;
  const ref = data.$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/definitions/', '');
    if (path.includes(name)) throw new Error(`cyclic $ref ${[...path, name].join(' → ')}`);
    return inline(structuredClone(definitions[name]!), definitions, [...path, name]);
  }
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, inline(value, definitions, path)]));
}

export function builtInSchemas(swagger: { definitions: Schema }): Map<string, Schema> {
  const definitions = structuredClone(swagger.definitions);
  definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  for (const definition of Object.values(definitions)) {
    if (!isObject(definition) || !Array.isArray(definition['x-kubernetes-group-version-kind']) || !isObject(definition.properties)) continue;
    for (const gvk of definition['x-kubernetes-group-version-kind'] as { group: string; version: string; kind: string }[]) {
      const pin = (property: string, value: string) => {
        const schema = (definition.properties as Schema)[property];
        if (!isObject(schema)) return;
        const values = (schema.enum ??= []) as Json[];
        if (!values.includes(value)) values.push(value);
      };
      pin('apiVersion', gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version);
      pin('kind', gvk.kind);
    }
  }
  denyAdditionalProperties(definitions);
  const out = new Map<string, Schema>();
  for (const title of KINDS) {
    const parts = title.split('.');
    const [group, version, kind] = [parts.at(-3)!, parts.at(-2)!, parts.at(-1)!.toLowerCase()];
    const spec = structuredClone(definitions[title]) as Schema;
    spec.$schema = 'http://json-schema.org/schema#';
    spec.type ??= 'object';
    spec.additionalProperties = false;
    const resolved = inline(spec, definitions) as Schema;
    resolved.properties = allowNullOptionalFields(replaceIntOrString(denyAdditionalProperties(resolved.properties!)));
    out.set(group === 'core' || group === 'api' ? `${kind}-${version}.json` : `${kind}-${group}-${version}.json`, resolved);
  }
  return out;
}

export function crdSchemas(yamlText: string): Map<string, Schema> {
  const out = new Map<string, Schema>();
  for (const doc of parseAllDocuments(yamlText)) {
    const crd = doc.toJS() as {
      kind?: string;
      spec?: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema?: Schema } }[] };
    };
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    for (const version of crd.spec.versions) {
      const schema = version.schema?.openAPIV3Schema;
      if (!schema) continue;
      const converted = replaceIntOrString(denyAdditionalProperties(structuredClone(schema), true)) as Schema;
      out.set(`${crd.spec.group}/${crd.spec.names.kind.toLowerCase()}_${version.name}.json`, converted);
    }
  }
  return out;
}

/** Downloads modules from the Go module proxy into a throwaway module cache; returns each one's directory. */
function goModules(modules: string[], cache: string): Map<string, string> {
  const out = execFileSync('go', ['mod', 'download', '-json', ...modules], {
    cwd: cache,
    env: { ...process.env, GOMODCACHE: join(cache, 'mod'), GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const dirs = new Map<string, string>();
  for (const chunk of out.split(/\n(?=\{)/)) {
    const info = JSON.parse(chunk) as { Path: string; Version: string; Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(`${info.Path}@${info.Version}: ${info.Error}`);
    dirs.set(`${info.Path}@${info.Version}`, info.Dir);
  }
  return dirs;
}

function write(dir: string, name: string, schema: Schema): void {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(schema) + '\n');
}

if (import.meta.main) {
  const target = new URL('../test/deploy/schemas/', import.meta.url).pathname;
  const cache = mkdtempSync(join(tmpdir(), 'k8s-schemas-'));
  try {
    const kubernetes = `k8s.io/kubernetes@v${KUBERNETES_VERSION}`;
    const dirs = goModules([kubernetes, ...CRDS.map(([module]) => module)], cache);
    rmSync(target, { recursive: true, force: true });
    const swagger = JSON.parse(readFileSync(join(dirs.get(kubernetes)!, 'api/openapi-spec/swagger.json'), 'utf8')) as { definitions: Schema };
    for (const [name, schema] of builtInSchemas(swagger)) write(join(target, `kubernetes/v${KUBERNETES_VERSION}-standalone-strict`), name, schema);
    for (const [module, path] of CRDS) {
      for (const [name, schema] of crdSchemas(readFileSync(join(dirs.get(module)!, path), 'utf8'))) write(join(target, 'crds'), name, schema);
    }
    console.log(`schemas written to ${target}`);
  } finally {
    execFileSync('chmod', ['-R', 'u+w', cache]);
    rmSync(cache, { recursive: true, force: true });
  }
}
