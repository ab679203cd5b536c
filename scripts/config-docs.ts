/**
 * Prints the config reference (docs/config.md) from the config schema, the one source of keys, types,
 * defaults and descriptions. `node scripts/config-docs.ts > docs/config.md`; a test keeps them equal.
 * It walks the JSON Schema zod makes of the schema (`z.toJSONSchema`, what a config is read as), not zod's
 * internals.
 */
import { z } from 'zod';
import { configSchema } from '../shared/config/schema.ts';

/** The parts of a JSON Schema (draft 2020-12, as zod writes it) the reference shows. */
interface JsonSchema {
  /** Several for a union of plain types (`boolean | string`). */
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

interface Row {
  key: string;
  type: string;
  def: string;
  description: string;
}

const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** `string`, `list of string`, `map of number`, `` `a` \| `b` ``, … */
function typeName(schema: JsonSchema): string {
  const options = schema.anyOf ?? schema.oneOf;
  if (options) return options.map(typeName).join(' \\| ');
  if (schema.enum) return schema.enum.map(code).join(' \\| ');
  if (schema.const !== undefined) return code(JSON.stringify(schema.const));
  if (schema.type === 'array' && schema.items) return `list of ${typeName(schema.items)}`;
  if (schema.type === 'object' && !schema.properties && typeof schema.additionalProperties === 'object')
    return `map of ${typeName(schema.additionalProperties)}`;
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeName({ type })).join(' \\| ');
  // The reference says `number` of every number; the ranges are in the descriptions.
  if (schema.type === 'integer') return 'number';
  return schema.type ?? 'any';
}

/** A row per leaf key; an object with properties is a section, its keys dotted under its own. */
function rows(schema: JsonSchema, prefix: string): Row[] {
  if (schema.type === 'object' && schema.properties) {
    return Object.entries(schema.properties).flatMap(([key, field]) => rows(field, prefix ? `${prefix}.${key}` : key));
  }
  const def = schema.default === undefined ? '' : schema.default === '' ? '""' : JSON.stringify(schema.default);
  return [{ key: prefix, type: typeName(schema), def, description: schema.description ?? '' }];
}

const jsonSchema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

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
  ...rows(jsonSchema, '').map((r) => `| \`${r.key}\` | ${r.type} | ${r.def ? `\`${r.def}\`` : ''} | ${r.description} |`),
  '',
];
process.stdout.write(lines.join('\n'));
