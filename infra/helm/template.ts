/**
 * A small YAML writer for Helm templates: plain JSON values are written as
 * YAML, and three kinds of node stand for template text. Hand-written
 * because the templates must put `{{ ... }}` exactly where a value goes,
 * which a YAML library would quote.
 */

/** A value rendered by Helm: `key: {{ expr }}`. */
export class Expr {
  constructor(readonly expr: string) {}
}

/**
 * Lines written in place of a whole map entry (the function writes the key
 * too) or of list items: optional entries, `toYaml` blocks, `range` items.
 * `indent` is the indentation of the entry or item.
 */
export class Lines {
  constructor(readonly render: (indent: string) => string[]) {}
}

/** `key:` then the YAML of `expr` (required: the key is always written). */
export const block = (key: string, expr: string) => new Lines((i) => [`${i}${key}:`, `${i}  {{- toYaml ${expr} | nindent ${i.length + 2} }}`]);

/** `key:` and the YAML of `expr` only when it is not empty. */
export const optionalBlock = (key: string, expr: string) =>
  new Lines((i) => [`${i}{{- with ${expr} }}`, `${i}${key}:`, `${i}  {{- toYaml . | nindent ${i.length + 2} }}`, `${i}{{- end }}`]);

/** `key: <value>` only when the value is not empty. */
export const optionalScalar = (key: string, expr: string) => new Lines((i) => [`${i}{{- with ${expr} }}`, `${i}${key}: {{ . | quote }}`, `${i}{{- end }}`]);

/**
 * A map of the object's own entries and the user's extra ones (`expr`, e.g.
 * .Values.labels); an own key keeps its value, as in the constructs.
 */
export const mergedMap = (key: string, own: Record<string, string> | undefined, expr: string) =>
  new Lines((i) => {
    const keys = Object.keys(own ?? {});
    if (!keys.length) return optionalBlock(key, expr).render(i);
    const extra = keys.length ? `omit ${expr} ${keys.map((k) => JSON.stringify(k)).join(' ')}` : expr;
    return [`${i}${key}:`, ...mapLines(own!, `${i}  `), `${i}  {{- with ${extra} }}`, `${i}  {{- toYaml . | nindent ${i.length + 2} }}`, `${i}  {{- end }}`];
  });

const PLAIN_KEY = /^[A-Za-z0-9_./-]+$/;
const keyText = (k: string) => (PLAIN_KEY.test(k) ? k : JSON.stringify(k));

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') {
    // Helm would read {{ in a value as template: pass such text through as data.
    if (v.includes('{{') || v.includes('}}')) return `{{ ${JSON.stringify(Buffer.from(v).toString('base64'))} | b64dec | toJson }}`;
    return JSON.stringify(v);
  }
  return String(v);
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Expr) && !(v instanceof Lines);

export function mapLines(obj: Record<string, unknown>, indent: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (v instanceof Lines) out.push(...v.render(indent));
    else if (v instanceof Expr) out.push(`${indent}${keyText(k)}: {{ ${v.expr} }}`);
    else if (Array.isArray(v)) out.push(...(v.length ? [`${indent}${keyText(k)}:`, ...listLines(v, `${indent}  `)] : [`${indent}${keyText(k)}: []`]));
    else if (isMap(v)) out.push(...(Object.keys(v).length ? [`${indent}${keyText(k)}:`, ...mapLines(v, `${indent}  `)] : [`${indent}${keyText(k)}: {}`]));
    else out.push(`${indent}${keyText(k)}: ${scalar(v)}`);
  }
  return out;
}

export function listLines(list: readonly unknown[], indent: string): string[] {
  const out: string[] = [];
  for (const v of list) {
    if (v instanceof Lines) out.push(...v.render(indent));
    else if (v instanceof Expr) out.push(`${indent}- {{ ${v.expr} }}`);
    else if (isMap(v) && Object.keys(v).length) {
      const lines = mapLines(v, `${indent}  `);
      // "- key: v" when the first line is a plain entry; "-" on its own line otherwise.
      if (lines[0]!.startsWith(`${indent}  `) && !lines[0]!.trimStart().startsWith('{{')) out.push(`${indent}- ${lines[0]!.slice(indent.length + 2)}`, ...lines.slice(1));
      else out.push(`${indent}-`, ...lines);
    } else if (Array.isArray(v)) out.push(`${indent}-`, ...listLines(v, `${indent}  `));
    else if (isMap(v)) out.push(`${indent}- {}`);
    else out.push(`${indent}- ${scalar(v)}`);
  }
  return out;
}
