import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Files the package ships in lib/assets/ for tools that want files rather than
 * constructs (kubectl, Grafana, Prometheus). `npm run build` writes them with
 * the same constructs (scripts/build.ts), so they equal dist/ and monitoring/
 * of the release.
 */
export const ASSETS = {
  /** The FlightTicket CustomResourceDefinition (dist/flightticket-crd.k8s.yaml). */
  crd: 'flightticket-crd.yaml',
  /** The Grafana dashboard JSON (monitoring/flight-operator-dashboard.json). */
  dashboard: 'flight-operator-dashboard.json',
  /** The alert rules as a plain Prometheus rule file (monitoring/flight-operator.rules.yaml). */
  rules: 'flight-operator.rules.yaml',
} as const;
export type Asset = keyof typeof ASSETS;

/** Absolute path of a shipped asset in the installed package (lib/assets/ beside this module). */
export function assetPath(asset: Asset): string {
  const file = join(__dirname, 'assets', ASSETS[asset]);
  // In the repo's source tree there is no lib/assets: `npm run build` writes it.
  if (!existsSync(file)) throw new Error(`flight-operator: asset ${ASSETS[asset]} not found at ${file} (run \`npm run build\`)`);
  return file;
}
