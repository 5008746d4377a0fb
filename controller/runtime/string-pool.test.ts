import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StringPool } from './string-pool';

/** A Ready custom resource as the API server sends it (managed fields already dropped), unique where a real one is. */
const widgetJson = (i: number) => {
  const uid = `9f8b2c1e-1234-4abc-9def-${String(i).padStart(12, '0')}`;
  return JSON.stringify({
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: {
      name: `widget-${i}`,
      namespace: 'team-a',
      uid,
      resourceVersion: String(100_000 + i),
      generation: 1,
      creationTimestamp: '2026-12-07T08:55:35Z',
      finalizers: ['example.com/cleanup'],
      annotations: { 'example.com/external-name': `${uid}.3c0d2a8e-5b7f-4e1a-9c2d-7f6e5d4c3b2a` },
    },
    spec: { size: 'large', zone: 'eu-west', replicas: 2 },
    status: {
      observedGeneration: 1,
      externalRef: `${uid.slice(0, 30)}.0`,
      replicas: 2,
      placement: 'large in eu-west',
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Provisioned', message: 'large in eu-west: 2 replicas provisioned', lastTransitionTime: '2026-12-07T08:55:36Z', observedGeneration: 1 },
        { type: 'Synced', status: 'True', reason: 'ReconcileSuccess', message: 'the external API accepted the last change', lastTransitionTime: '2026-12-07T08:55:36Z', observedGeneration: 1 },
      ],
    },
  });
};

describe('StringPool', () => {
  it('GIVEN a parsed object WHEN its values are interned THEN it is the same object with the same values', () => {
    const pool = new StringPool({ skipKeys: ['uid', 'resourceVersion', 'name', 'externalRef'] });
    const raw = JSON.parse(widgetJson(1));
    const interned = pool.internValues(raw);
    expect(interned).toBe(raw);
    expect(interned).toEqual(JSON.parse(widgetJson(1)));
  });

  it('GIVEN values unique to each object WHEN 1,000 objects are interned THEN only the shared values enter the pool', () => {
    // GIVEN the keys that are unique per object skipped, and the 73-character external name over maxLength
    const pool = new StringPool({ skipKeys: ['uid', 'resourceVersion', 'name', 'externalRef'] });
    // WHEN
    for (let i = 0; i < 1000; i++) pool.internValues(JSON.parse(widgetJson(i)));
    // THEN the pool holds what the objects have in common, not 1,000 of anything
    expect(pool.size).toBeGreaterThan(10);
    expect(pool.size).toBeLessThan(30);
    expect(pool.generations).toBe(0);
  });

  it('GIVEN a full pool WHEN a new value arrives THEN the pool starts over instead of growing', () => {
    const pool = new StringPool({ maxEntries: 10 });
    for (let i = 0; i < 25; i++) pool.intern(`value-${i}`);
    expect(pool.size).toBeLessThanOrEqual(10);
    expect(pool.generations).toBe(2);
    // A value seen in this generation is still the pool's copy
    expect(pool.intern('value-24')).toBe('value-24');
  });

  it('GIVEN 10,000 Ready objects held as parsed WHEN interned THEN the V8 heap holds them in at least a quarter less', () => {
    // In a fresh node with gc(): jest's own process has parsed other tests' JSON before, and
    // V8 may already hold some of these values, which makes the plain side vary by test order.
    const dir = mkdtempSync(path.join(tmpdir(), 'string-pool-'));
    try {
      const script = path.join(dir, 'measure.mts');
      writeFileSync(
        script,
        `import { StringPool } from ${JSON.stringify(path.join(__dirname, 'string-pool.ts'))};
const widgetJson = ${widgetJson.toString()};
const gc = globalThis.gc;
const heapWith = (keep) => {
  const raws = Array.from({ length: 10000 }, (_, i) => widgetJson(i));
  gc();
  const before = process.memoryUsage().heapUsed;
  const held = raws.map(keep);
  gc();
  // the raw JSON is alive on both sides of the difference: it is the held objects'
  const bytes = process.memoryUsage().heapUsed - before;
  if (held.length !== raws.length) throw new Error('lost objects');
  return bytes;
};
const plain = heapWith((j) => JSON.parse(j));
const pool = new StringPool({ skipKeys: ['uid', 'resourceVersion', 'name', 'externalRef'] });
const pooled = heapWith((j) => pool.internValues(JSON.parse(j)));
console.log(JSON.stringify({ plain, pooled }));
`,
      );
      const tsx = pathToFileURL(path.join(__dirname, '../../node_modules/tsx/dist/loader.mjs')).href;
      const out = execFileSync(process.execPath, ['--expose-gc', '--import', tsx, script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
      const { plain, pooled } = JSON.parse(out.trim().split('\n').pop()!) as { plain: number; pooled: number };
      process.stderr.write(`string pool: 10,000 objects held in ${plain} bytes parsed, ${pooled} interned (${(pooled / plain).toFixed(2)})\n`);
      expect(pooled).toBeLessThan(0.75 * plain);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
