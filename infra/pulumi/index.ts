/**
 * The Pulumi program (Pulumi.yaml points here). Two stacks:
 *  - `manifests`: the CRD, then the operator, from the cdk8s constructs;
 *  - `olm`: OLM itself when the cluster has none (from OLM's upstream chart),
 *    then the operator through a CatalogSource, an OperatorGroup and a
 *    Subscription; the provider waits until OLM installed the release.
 * Every setting is read and validated before anything is declared
 * (stack-config.ts), so bad config fails `pulumi preview` naming the key.
 * The components are usable from your own program: see components.ts and
 * the README.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { checkCatalogAnswers, olmPresence } from './cluster-checks';
import { FlightTicketOperator } from './flightticket-operator';
import { Olm } from './olm';
import { readStackConfig } from './stack-config';

async function program(): Promise<Record<string, unknown>> {
  const config = readStackConfig();
  const provider = new k8s.Provider('cluster', {
    // The path, not the file's contents: no credentials in the state.
    kubeconfig: config.cluster.kubeconfig,
    ...(config.cluster.context ? { context: config.cluster.context } : {}),
    enableServerSideApply: true,
  });
  const opts = { providers: { kubernetes: provider } };

  if (config.method === 'manifests') {
    const operator = new FlightTicketOperator(
      'flight-operator',
      { settings: config.settings, bookingToken: config.bookingToken, install: { method: 'manifests', crd: config.crd } },
      opts,
    );
    return { method: 'manifests', namespace: operator.namespace, crd: operator.crdName };
  }

  const olmConfig = config.olm!;
  if ('address' in olmConfig.catalog) await checkCatalogAnswers(olmConfig.catalog.address);
  const installedBy = `${pulumi.getProject()}.${pulumi.getStack()}`;
  let olm: Olm | undefined;
  // `auto` (opt-in) asks the cluster on every run; a wrong answer there would plan
  // OLM's deletion, so the default is to say it in the config: always or never.
  const presence = olmConfig.installOlm === 'auto' ? await olmPresence(config.cluster, installedBy) : olmConfig.installOlm === 'always' ? 'ours' : 'foreign';
  if (olmConfig.installOlm === 'always' || presence !== 'foreign') {
    if (!olmConfig.olmChart) {
      throw new Error(`flight-operator:olmChart: the cluster has no OLM and no chart to install it from (set it to OLM's Helm chart directory; tools/ensure.sh olm copies it to <bin>/chart)`);
    }
    olm = new Olm('olm', { chartPath: olmConfig.olmChart, namespace: olmConfig.olmNamespace, packageServer: olmConfig.olmPackageServer, installedBy }, opts);
  }
  const operator = new FlightTicketOperator(
    'flight-operator',
    {
      settings: config.settings,
      bookingToken: config.bookingToken,
      install: {
        method: 'olm',
        catalog: olmConfig.catalog,
        catalogNamespace: olmConfig.catalogNamespace,
        targetNamespaces: olmConfig.targetNamespaces,
        approval: olmConfig.approval,
      },
    },
    { ...opts, ...(olm ? { dependsOn: olm.ready } : {}) },
  );
  return {
    method: 'olm',
    olmInstalledByThisStack: olm !== undefined,
    namespace: operator.namespace,
    csvName: operator.installedCsv,
  };
}

// A CommonJS module whose export is a function: @pulumi/pulumi calls it and
// exports what it returns as the stack outputs (a `default` export is only
// unwrapped for ES modules).
export = program;
