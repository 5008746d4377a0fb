/**
 * The Pulumi program (Pulumi.yaml points here). Two stacks:
 *  - `manifests`: the operator from the plain manifests (no OLM);
 *  - `olm`: OLM from its release manifests, then the operator through a
 *    CatalogSource and a Subscription.
 * Settings come from stack config (Pulumi.<stack>.yaml) over the defaults of
 * this release, and are validated exactly as `npm run synth` validates them.
 */
import * as pulumi from '@pulumi/pulumi';
import { defaultSettings } from '../defaults';
import { ManifestsInstall } from './manifests-install';
import { OlmInstall } from './olm-install';
import { OlmSubscription } from './olm-subscription';

const config = new pulumi.Config('flight-operator');
const method = config.get('installMethod') ?? 'manifests';
const settings = defaultSettings({
  ...(config.get('namespace') ? { namespace: config.require('namespace') } : {}),
  ...(config.get('image') ? { image: config.require('image') } : {}),
  ...(config.get('bookingApiUrl') ? { bookingApiUrl: config.require('bookingApiUrl') } : {}),
  ...(config.getNumber('replicas') !== undefined ? { replicas: config.requireNumber('replicas') } : {}),
});

export let installed: pulumi.Output<string> | string;
if (method === 'manifests') {
  new ManifestsInstall('flight-operator', { settings });
  installed = `manifests in namespace ${settings.namespace}`;
} else if (method === 'olm') {
  const olmManifests = config.getObject<string[]>('olmManifests') ?? [];
  const olm = olmManifests.length ? new OlmInstall('olm', { manifests: olmManifests }) : undefined;
  const catalogAddress = config.get('catalogAddress');
  const sub = new OlmSubscription(
    'flight-operator',
    {
      settings,
      catalog: catalogAddress ? { address: catalogAddress } : { image: config.require('catalogImage') },
      catalogNamespace: config.get('catalogNamespace') ?? 'olm',
      targetNamespaces: config.getObject<string[]>('targetNamespaces') ?? [settings.namespace],
    },
    olm ? { dependsOn: olm.ready } : undefined,
  );
  installed = sub.subscription.metadata.name;
} else {
  throw new Error(`flight-operator:installMethod must be "manifests" or "olm", got "${method}"`);
}
