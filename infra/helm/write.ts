import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultSettings, RELEASE } from '../defaults';
import { CHART_NAME, helmChart } from './chart';

/** Where `npm run synth` writes the chart, beside the plain manifests. */
export const HELM_CHART_DIR = join(__dirname, '..', '..', 'dist', 'helm', CHART_NAME);

/** Writes the Helm chart of the default settings into `dir` (replacing it); returns the number of files. */
export function writeHelmChart(dir = HELM_CHART_DIR): number {
  const files = helmChart(defaultSettings(), RELEASE.minKubeVersion);
  rmSync(dir, { recursive: true, force: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return Object.keys(files).length;
}
