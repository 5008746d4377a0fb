/**
 * A small JSON Schema checker for the subset booking-api/openapi.yaml uses
 * (type, required, properties, additionalProperties: false, enum, const,
 * minimum/maximum, minLength/maxLength, items, $ref to components/schemas), so
 * tests can check that real responses match the published contract without a
 * validator dependency.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';

type Schema = Record<string, unknown>;

export const OPENAPI_PATH = resolve(__dirname, '../booking-api/openapi.yaml');

let cached: { components: { schemas: Record<string, Schema> } } | undefined;
function spec() {
  return (cached ??= YAML.parse(readFileSync(OPENAPI_PATH, 'utf8')));
}

/** Problems found validating `value` against components.schemas[name]; empty when it conforms. */
export function schemaErrors(value: unknown, name: string): string[] {
  const errors: string[] = [];
  check(value, { $ref: `#/components/schemas/${name}` }, '$', errors);
  return errors;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function check(v: unknown, s: Schema, at: string, errors: string[]): void {
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/components/schemas/', '');
    const target = spec().components.schemas[name];
    if (!target) return void errors.push(`${at}: unknown $ref ${s.$ref}`);
    return check(v, target, at, errors);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const t = typeOf(v);
    if (!types.some((x) => x === t || (x === 'number' && t === 'integer'))) return void errors.push(`${at}: expected ${types.join('|')}, got ${t}`);
  }
  if (s.const !== undefined && v !== s.const) errors.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.includes(v)) errors.push(`${at}: ${JSON.stringify(v)} not in enum`);
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) errors.push(`${at}: below minimum ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) errors.push(`${at}: above maximum ${s.maximum}`);
  }
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
    if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) errors.push(`${at}: not a date-time`);
  }
  if (Array.isArray(v) && s.items) v.forEach((item, i) => check(item, s.items as Schema, `${at}[${i}]`, errors));
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in o)) errors.push(`${at}: missing ${r}`);
    for (const [k, sub] of Object.entries(props)) if (k in o) check(o[k], sub, `${at}.${k}`, errors);
    if (s.additionalProperties === false) for (const k of Object.keys(o)) if (!(k in props)) errors.push(`${at}: unexpected ${k}`);
  }
}
