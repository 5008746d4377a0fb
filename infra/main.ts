// The cdk8s app behind `cdk8s synth` (see cdk8s.yaml): plain manifests in
// dist/, and, in the same process to keep the main job fast, the OLM bundle
// and catalog in olm-bundle/ (also `npm run bundle` on its own), and the
// monitoring files (rule file, dashboard JSON) in monitoring/.
import { App } from 'cdk8s';
import { writeBundle } from './bundle/write';
import { CrdChart } from './charts/crd-chart';
import { ExampleTicketChart } from './charts/example-ticket-chart';
import { MonitoringChart } from './charts/monitoring-chart';
import { OperatorChart } from './charts/operator-chart';
import { defaultSettings } from './defaults';
import { writeMonitoring } from './monitoring/files';

const app = new App();
new CrdChart(app, 'flightticket-crd');
new OperatorChart(app, 'flight-operator', { settings: defaultSettings() });
new ExampleTicketChart(app, 'example-ticket', { namespace: 'default' });
new MonitoringChart(app, 'flight-operator-monitoring', { namespace: defaultSettings().namespace });
app.synth();
console.log(`olm-bundle: wrote ${writeBundle()} files`);
console.log(`monitoring: wrote ${writeMonitoring()} files`);
