import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitoringFiles } from './files';

/** The repo's monitoring/ folder: `npm run synth` writes here (not part of the package's library). */
export const MONITORING_DIR = join(__dirname, '..', '..', 'monitoring');

/** Writes the monitoring files into monitoring/; returns how many files. */
export function writeMonitoring(out = MONITORING_DIR): number {
  const files = monitoringFiles();
  mkdirSync(out, { recursive: true });
  for (const [name, content] of files) writeFileSync(join(out, name), content);
  return files.size;
}
