import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { App, Testing } from 'cdk8s';
import { CrdChart } from '../charts/crd-chart';
import { OperatorChart } from '../charts/operator-chart';
import { CRD_NAME, OperatorSettings, validateSettings } from '../settings';
import { InstalledCsv, waitForCsvSucceeded } from './cluster-checks';
import { ClusterAccess } from './stack-config';

/** Install the operator from the plain manifests (`npm run synth` output, synthesized in-process). */
export interface ManifestsInstall {
  readonly method: 'manifests';
}

/** Install the operator through OLM: CatalogSource -> OperatorGroup -> Subscription; OLM does the rest. */
export interface OlmInstall {
  readonly method: 'olm';
  /** gRPC address of a registry server (e.g. `opm serve`), or a catalog image. */
  readonly catalog: { readonly address: string } | { readonly image: string };
  /** Namespace of the CatalogSource: OLM's global catalog namespace makes it visible to every namespace. */
  readonly catalogNamespace: string;
  /** Namespaces the operator watches (the OperatorGroup's targetNamespaces); empty = all namespaces. */
  readonly targetNamespaces: string[];
  readonly approval: 'Automatic' | 'Manual';
  /** Where to read the Subscription and CSV while waiting for OLM (Automatic approval only). */
  readonly cluster: ClusterAccess;
  /** How long to wait for the CSV to reach Succeeded. Default 300 s. */
  readonly csvTimeoutMs?: number;
}

export interface FlightTicketOperatorArgs {
  readonly settings: OperatorSettings;
  /** The booking API's bearer token; becomes the credentials Secret the controller mounts as a file. Pass a Pulumi secret. */
  readonly bookingToken?: pulumi.Input<string>;
  readonly install: ManifestsInstall | OlmInstall;
}

/**
 * The flight-operator: the FlightTicket CRD and the controller, from the same
 * cdk8s constructs as `npm run synth` and the OLM bundle (no second copy of
 * any manifest). Objects are applied server-side with the provider's await
 * logic. Declare FlightTickets with `dependsOn: operator.ready`: they are then
 * created after the CRD exists and the controller runs, and `pulumi destroy`
 * deletes them first, while the controller still runs to cancel their
 * bookings and release their finalizers.
 */
export class FlightTicketOperator extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly crdName: string = CRD_NAME;
  /** The controller's ServiceAccount (its RBAC comes from the chart, or from the CSV through OLM). */
  public readonly serviceAccountName: string;
  /** Resolves once the CRD exists and the controller is installed; use as `dependsOn`. */
  public readonly ready: pulumi.Output<pulumi.Resource[]>;
  /** OLM only (Automatic approval): the installed CSV, once Succeeded. */
  public readonly csv?: pulumi.Output<InstalledCsv>;

  constructor(name: string, args: FlightTicketOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super('flights:index:FlightTicketOperator', name, {}, opts);
    const s = validateSettings(args.settings);
    // What the caller said this operator comes after (e.g. OLM): the namespace
    // and the CatalogSource wait for it, everything else waits for them.
    const after = opts?.dependsOn ? { dependsOn: opts.dependsOn } : {};
    const operatorObjects = Testing.synth(new OperatorChart(new App(), 'operator', { settings: s, createNamespace: true })) as any[];
    const nsObject = operatorObjects.find((o) => o.kind === 'Namespace');
    this.serviceAccountName = operatorObjects.find((o) => o.kind === 'ServiceAccount')?.metadata.name;

    // The namespace first (the Secret needs it, and OLM installs into it), as the chart declares it.
    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: nsObject.metadata }, { parent: this, ...after });
    this.namespace = namespace.metadata.name;
    const secret = args.bookingToken
      ? new k8s.core.v1.Secret(
          `${name}-booking-credentials`,
          { metadata: { name: s.bookingCredentialsSecret, namespace: namespace.metadata.name }, type: 'Opaque', stringData: { token: args.bookingToken } },
          { parent: this, additionalSecretOutputs: ['stringData', 'data'] },
        )
      : undefined;
    const before = [namespace, ...(secret ? [secret] : [])];

    if (args.install.method === 'manifests') {
      const crd = new k8s.yaml.v2.ConfigGroup(`${name}-crd`, { objs: Testing.synth(new CrdChart(new App(), 'crd')) }, { parent: this, ...after });
      const controller = new k8s.yaml.v2.ConfigGroup(
        `${name}-controller`,
        { objs: operatorObjects.filter((o) => o !== nsObject) },
        { parent: this, dependsOn: [crd, ...before] },
      );
      this.ready = pulumi.output([controller]);
    } else {
      const olm = args.install;
      const source = new k8s.apiextensions.CustomResource(
        `${name}-catalog`,
        {
          apiVersion: 'operators.coreos.com/v1alpha1',
          kind: 'CatalogSource',
          metadata: { name: `${s.packageName}-catalog`, namespace: olm.catalogNamespace },
          spec: { sourceType: 'grpc', displayName: 'Flight Operator', publisher: 'flight-operator project', ...olm.catalog },
        },
        { parent: this, ...after },
      );
      const group = new k8s.apiextensions.CustomResource(
        `${name}-operatorgroup`,
        {
          apiVersion: 'operators.coreos.com/v1',
          kind: 'OperatorGroup',
          metadata: { name: s.packageName, namespace: namespace.metadata.name },
          // The CSV supports all four install modes; no targetNamespaces = AllNamespaces.
          spec: olm.targetNamespaces.length ? { targetNamespaces: olm.targetNamespaces } : {},
        },
        { parent: this, dependsOn: before },
      );
      const subscription = new k8s.apiextensions.CustomResource(
        `${name}-subscription`,
        {
          apiVersion: 'operators.coreos.com/v1alpha1',
          kind: 'Subscription',
          metadata: { name: s.packageName, namespace: namespace.metadata.name },
          spec: {
            name: s.packageName,
            channel: s.channel,
            source: source.metadata.name,
            sourceNamespace: olm.catalogNamespace,
            installPlanApproval: olm.approval,
            // OLM rewrites ConfigMaps shipped in a bundle; the Subscription's env is how users set the endpoint.
            config: { env: [{ name: 'BOOKING_API_URL', value: s.bookingApiUrl }] },
          },
        },
        { parent: this, dependsOn: [group, source, ...before] },
      );
      if (olm.approval === 'Automatic') {
        // OLM creates the CSV, CRD, RBAC and Deployment; none is a resource of
        // ours, so wait for the CSV here. Not during a preview of a new install.
        this.csv = pulumi
          .all([subscription.id, namespace.metadata.name])
          .apply(([, ns]) => waitForCsvSucceeded(olm.cluster, ns, s.packageName, olm.csvTimeoutMs));
        this.ready = this.csv.apply(() => [subscription as pulumi.Resource]);
      } else {
        // Manual approval: someone approves the InstallPlan; `up` does not wait for that.
        this.ready = pulumi.output([subscription]);
      }
    }
    this.registerOutputs({ namespace: this.namespace, csv: this.csv });
  }
}
