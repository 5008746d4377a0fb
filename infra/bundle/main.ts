// `npm run bundle`: writes the OLM bundle and the offline catalog into olm-bundle/.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultSettings } from '../defaults';
import { generateBundle } from './generate';

const out = join(__dirname, '..', '..', 'olm-bundle');
const files = generateBundle(defaultSettings());
// Only generated files live in these folders: clear them so a renamed object leaves no stale file behind.
for (const dir of ['manifests', 'metadata', 'catalog']) rmSync(join(out, dir), { recursive: true, force: true });
for (const [path, content] of files) {
  mkdirSync(dirname(join(out, path)), { recursive: true });
  writeFileSync(join(out, path), content);
}
console.log(`olm-bundle: wrote ${files.size} files`);
