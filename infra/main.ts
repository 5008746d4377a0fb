// The cdk8s app behind `cdk8s synth` (see cdk8s.yaml): plain manifests in
// dist/, and, in the same process to keep the main job fast, the OLM bundle
// and catalog in olm-bundle/ (also `npm run bundle` on its own), and the
// monitoring files (rule file, dashboard JSON) in monitoring/, and the Helm
// chart of the plain install in dist/helm/.
import { App } from 'cdk8s';
import { writeBundle } from './bundle/write';
import { ExampleTicketChart } from './charts/example-ticket-chart';
import { plainInstall } from './charts/plain-install';
import { defaultSettings } from './defaults';
import { writeHelmChart } from './helm/write';
import { writeMonitoring } from './monitoring/write';

const app = new App();
plainInstall(app, defaultSettings());
new ExampleTicketChart(app, 'example-ticket', { namespace: 'default' });
app.synth();
console.log(`olm-bundle: wrote ${writeBundle()} files`);
console.log(`monitoring: wrote ${writeMonitoring()} files`);
console.log(`helm: wrote ${writeHelmChart()} files into dist/helm/`);
