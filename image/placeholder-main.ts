/**
 * TEMPORARY stand-in for controller/main.ts (being written) so the image build
 * and its tests can run: parses the real flags, loads a kubeconfig with the
 * real client, and prints what it would do. Delete once controller/main.ts
 * exists and CONTROLLER_ENTRY in image/controller-image.ts points at it.
 */
import * as k8s from '@kubernetes/client-node';
import { ConfigError, loadConfig } from '../controller/config';

try {
  const config = loadConfig(process.argv.slice(2), process.env);
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  console.log(JSON.stringify({ msg: 'placeholder controller', server: kc.getCurrentCluster()?.server, bookingApiUrl: config.bookingApiUrl }));
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}
