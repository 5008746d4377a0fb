// `npm run build`: the package's library in lib/ (package.json "exports", "files").
// tsc compiles the entries (tsconfig.build.json) with declarations; the files
// the compiled code reads beside itself (infra/defaults.ts: the image locks and
// the icon) are copied next to it, and the assets users may want as files
// (infra/assets.ts) are written by the same constructs as `npm run synth`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { ASSETS } from '../infra/assets';
import { CrdChart } from '../infra/charts/crd-chart';
import { monitoringFiles } from '../infra/monitoring/files';

const root = join(__dirname, '..');
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const f of ['controller-image.json', 'bundle-image.json', 'icon.svg']) copyFileSync(join(root, 'infra', f), join(lib, f));
mkdirSync(join(lib, 'assets'));
writeFileSync(join(lib, 'assets', ASSETS.crd), stringify(Testing.synth(new CrdChart(Testing.app(), 'crd'))[0]));
const monitoring = monitoringFiles();
for (const key of ['dashboard', 'rules'] as const) writeFileSync(join(lib, 'assets', ASSETS[key]), monitoring.get(ASSETS[key])!);
console.log(`lib: compiled; the image locks, the icon and ${Object.keys(ASSETS).length} assets beside it`);
