import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitoringFiles } from './files';
import { MONITORING_DIR } from './write';

describe('monitoring/', () => {
  test('is exactly what `npm run synth` generates (no drift, no stale files)', () => {
    // GIVEN the committed folder WHEN the files are generated again THEN they are the same, file for file
    const files = monitoringFiles();
    expect(readdirSync(MONITORING_DIR).sort()).toEqual([...files.keys()].sort());
    for (const [name, content] of files) expect({ name, content: readFileSync(join(MONITORING_DIR, name), 'utf8') }).toEqual({ name, content });
  });
});
