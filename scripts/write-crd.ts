// Writes the synthesized FlightTicket CRD to a file (default dist/flightticket-crd.k8s.yaml):
// the input of `npm run import`, which regenerates infra/imports/flights.com.ts.
import { writeFileSync } from 'node:fs';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { CrdChart } from '../infra/charts/crd-chart';

const out = process.argv[2] ?? 'dist/flightticket-crd.k8s.yaml';
writeFileSync(out, stringify(Testing.synth(new CrdChart(Testing.app(), 'crd'))[0]));
