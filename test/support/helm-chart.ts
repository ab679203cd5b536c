/**
 * The Helm chart (deploy/helm/egress-queue) through the real tools: helm v4 and kubeconform, built once from the
 * Go module proxy (scripts/ensure-helm-tools.sh). Renders a value set into its manifests, lints, and validates
 * manifests against the Kubernetes and CRD schemas vendored in test/deploy/schemas (scripts/k8s-schemas.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { KUBERNETES_VERSION } from '../../scripts/k8s-schemas.ts';

const run = promisify(execFile);
const REPO = new URL('../../', import.meta.url).pathname;
export const CHART_DIR = `${REPO}deploy/helm/egress-queue`;
const SCHEMAS = `${REPO}test/deploy/schemas`;

export interface HelmTools {
  helm: string;
  kubeconform: string;
}

/** A manifest as rendered: kind, metadata and the rest, loosely typed (tests read what they check). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
}

export interface Rendered {
  text: string;
  manifests: Manifest[];
  /** The one manifest of `kind` named `name`; throws if there is none. */
  get(kind: string, name: string): Manifest;
  all(kind: string): Manifest[];
}

export async function helmTools(): Promise<HelmTools> {
  const { stdout } = await run('bash', [`${REPO}scripts/ensure-helm-tools.sh`], { maxBuffer: 16 * 1024 * 1024 });
  const path = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(stdout)?.[1] ?? '';
  return { helm: path('HELM'), kubeconform: path('KUBECONFORM') };
}

const valueArgs = (valuesFiles: string[], set: Record<string, string>) => [
  ...valuesFiles.flatMap((file) => ['-f', file]),
  ...Object.entries(set).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
];

export async function renderChart(
  tools: HelmTools,
  options: { valuesFiles?: string[]; set?: Record<string, string>; release?: string; namespace?: string } = {},
): Promise<Rendered> {
  const args = [
    'template',
    options.release ?? 'eq',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'egress',
    ...valueArgs(options.valuesFiles ?? [], options.set ?? {}),
  ];
  const { stdout: text } = await run(tools.helm, args, { maxBuffer: 16 * 1024 * 1024 });
  const manifests = parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => !!m);
  const all = (kind: string) => manifests.filter((m) => m.kind === kind);
  const get = (kind: string, name: string) => {
    const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
    return found;
  };
  return { text, manifests, get, all };
}

/** `helm lint --strict`: the combined output, whether it passed or not. */
export async function lintChart(tools: HelmTools, valuesFiles: string[] = []): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(tools.helm, ['lint', '--strict', CHART_DIR, ...valueArgs(valuesFiles, {})]);
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export interface Validation {
  valid: number;
  invalid: number;
  errors: number;
  skipped: number;
  /** kubeconform's message for every resource that is not valid. */
  problems: string[];
}

/** kubeconform -strict against the vendored schemas only: a kind without a schema is an error, not skipped. */
export async function validateManifests(tools: HelmTools, yamlText: string): Promise<Validation> {
  const args = [
    '-strict',
    '-summary',
    '-output',
    'json',
    '-kubernetes-version',
    KUBERNETES_VERSION,
    '-schema-location',
    `${SCHEMAS}/kubernetes/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
    '-schema-location',
    `${SCHEMAS}/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
    '-',
  ];
  const stdout = await new Promise<string>((resolve, reject) => {
    // Exit status 1 means invalid resources: the JSON says which.
    // err is an Error (Node types it as an interface over Omit<ExecException, 'code'>, which the rule does not see through).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const child = execFile(tools.kubeconform, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out) => (err && !out ? reject(err) : resolve(out)));
    child.stdin!.end(yamlText);
  });
  const report = JSON.parse(stdout) as { resources?: { kind: string; name: string; status: string; msg: string }[]; summary: Record<string, number> };
  return {
    valid: report.summary.valid ?? 0,
    invalid: report.summary.invalid ?? 0,
    errors: report.summary.errors ?? 0,
    skipped: report.summary.skipped ?? 0,
    problems: (report.resources ?? []).filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.status} ${r.msg}`),
  };
}
