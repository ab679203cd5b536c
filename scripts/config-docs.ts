/**
 * Prints the config reference (docs/config.md) from the config schema, the one source of keys, types,
 * defaults and descriptions. `node scripts/config-docs.ts > docs/config.md`; a test keeps them equal.
 */
import { z } from 'zod';
import { configSchema } from '../shared/config/schema.ts';

interface Row {
  key: string;
  type: string;
  def: string;
  description: string;
}

function unwrap(schema: z.ZodType): { inner: z.ZodType; def?: unknown } {
  let inner: z.ZodType = schema;
  let def: unknown;
  for (;;) {
    const d = (inner as any)._zod.def;
    if (d.type === 'default' || d.type === 'prefault') {
      def = typeof d.defaultValue === 'function' ? d.defaultValue() : d.defaultValue;
      inner = d.innerType;
    } else if (d.type === 'optional') inner = d.innerType;
    else if (d.type === 'pipe') inner = d.in;
    else return { inner, def };
  }
}

function typeName(schema: z.ZodType): string {
  const d = (schema as any)._zod.def;
  switch (d.type) {
    case 'enum':
      return Object.values(d.entries).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'array':
      return `list of ${typeName(unwrap(d.element).inner)}`;
    case 'record':
      return `map of ${typeName(d.valueType)}`;
    case 'union':
      return d.options.map((o: z.ZodType) => typeName(o)).join(' \\| ');
    default:
      return d.type;
  }
}

function rows(schema: z.ZodType, prefix: string, description = ''): Row[] {
  const { inner, def } = unwrap(schema);
  if ((inner as any)._zod.def.type === 'object') {
    const shape = (inner as any)._zod.def.shape as Record<string, z.ZodType>;
    return Object.entries(shape).flatMap(([key, field]) => rows(field, prefix ? `${prefix}.${key}` : key, field.description ?? ''));
  }
  const shown = def === undefined ? '' : def === '' ? '""' : JSON.stringify(def);
  return [{ key: prefix, type: typeName(inner), def: shown, description }];
}

const lines = [
  '# Configuration reference',
  '',
  'Generated from `shared/config/schema.ts` by `node scripts/config-docs.ts`; do not edit by hand.',
  '',
  'YAML from `EGRESS_CONFIG_FILE` (a path) or `EGRESS_CONFIG_BODY` (the YAML itself); then the environment:',
  '`LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`, `LIVEKIT_URL` (or `LIVEKIT_WS_URL`), `REDIS_URL`, `REDIS_PASSWORD`,',
  '`REDIS_SENTINEL_PASSWORD`, `EGRESS_PORT`, `EGRESS_HOST`, `EGRESS_HEALTH_PORT`, `EGRESS_POOLS` (comma-separated),',
  '`EGRESS_LOG_LEVEL`, `EGRESS_RECORDINGS_DIR`. A key that is unknown or of the wrong type stops the service at',
  'start with a message naming it.',
  '',
  '| key | type | default | description |',
  '| --- | --- | --- | --- |',
  ...rows(configSchema, '').map((r) => `| \`${r.key}\` | ${r.type} | ${r.def ? `\`${r.def}\`` : ''} | ${r.description} |`),
  '',
];
process.stdout.write(lines.join('\n'));
