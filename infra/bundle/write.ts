import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultSettings } from '../defaults';
import { generateBundle } from './generate';

export const BUNDLE_DIR = join(__dirname, '..', '..', 'olm-bundle');

/** Writes the OLM bundle and the offline catalog into olm-bundle/; returns how many files. */
export function writeBundle(out = BUNDLE_DIR): number {
  const files = generateBundle(defaultSettings());
  // Only generated files live in these folders: clear them so a renamed object leaves no stale file behind.
  for (const dir of ['manifests', 'metadata', 'catalog', 'catalog-image']) rmSync(join(out, dir), { recursive: true, force: true });
  for (const [path, content] of files) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), content);
  }
  return files.size;
}
