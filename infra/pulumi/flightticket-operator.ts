import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { App, Testing } from 'cdk8s';
import { CrdChart } from '../charts/crd-chart';
import { OperatorChart } from '../charts/operator-chart';
import { CRD_NAME, OperatorSettings, validateSettings } from '../settings';

/** The package's own type tokens; before 0.3.0 they were `flights:index:*`, kept as aliases so existing stacks rename, not replace. */
export const OPERATOR_TYPE = 'flight-operator:index:FlightTicketOperator';
export const LEGACY_OPERATOR_TYPE = 'flights:index:FlightTicketOperator';

/** Every setting may come from another resource (the image from an image build, the booking URL from a Service, ...). */
export type OperatorSettingsInput = { readonly [K in keyof OperatorSettings]: pulumi.Input<OperatorSettings[K]> };

/** Install the operator from the plain manifests (`npm run synth` output, synthesized in-process). */
export interface ManifestsInstall {
  readonly method: 'manifests';
  /**
   * The FlightTicket CRD's lifecycle. Deleting the CRD deletes every
   * FlightTicket in the cluster (and, with the controller gone, leaves their
   * bookings): `protect` makes `pulumi destroy` refuse, `retainOnDelete`
   * makes it leave the CRD in the cluster (docs/pulumi.md, "Deleting").
   */
  readonly crd?: { readonly protect?: boolean; readonly retainOnDelete?: boolean };
}

/** Install the operator through OLM: CatalogSource -> OperatorGroup -> Subscription; OLM does the rest. */
export interface OlmInstall {
  readonly method: 'olm';
  /** gRPC address of a registry server (e.g. `opm serve`), or a catalog image. */
  readonly catalog: pulumi.Input<{ readonly address: string } | { readonly image: string }>;
  /** Namespace of the CatalogSource: OLM's global catalog namespace makes it visible to every namespace. */
  readonly catalogNamespace: pulumi.Input<string>;
  /** Namespaces the operator watches (the OperatorGroup's targetNamespaces); empty = all namespaces. */
  readonly targetNamespaces: pulumi.Input<pulumi.Input<string>[]>;
  /** Automatic: `up` waits (the provider's await logic) until OLM installed the release. Manual: someone approves the InstallPlan; `up` does not wait. */
  readonly approval: 'Automatic' | 'Manual';
  /** How long the provider waits for the Subscription to reach AtLatestKnown. Default 300. */
  readonly timeoutSeconds?: number;
}

export interface FlightTicketOperatorArgs {
  readonly settings: OperatorSettingsInput;
  /** The booking API's bearer token; becomes the credentials Secret the controller mounts as a file. Pass a Pulumi secret. */
  readonly bookingToken?: pulumi.Input<string>;
  readonly install: ManifestsInstall | OlmInstall;
}

/**
 * The flight-operator: the FlightTicket CRD and the controller, from the same
 * cdk8s constructs as `npm run synth` and the OLM bundle (no second copy of
 * any manifest). Objects are applied with the caller's provider and its await
 * logic; nothing here talks to the cluster itself, so `pulumi preview` never
 * waits on one. Declare FlightTickets with `dependsOn: operator.ready`: they
 * are then created after the CRD exists and the controller runs, and
 * `pulumi destroy` deletes them first, while the controller still runs to
 * cancel their bookings and release their finalizers.
 */
export class FlightTicketOperator extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly crdName: string = CRD_NAME;
  /** The controller's ServiceAccount (its RBAC comes from the chart, or from the CSV through OLM). */
  public readonly serviceAccountName: pulumi.Output<string>;
  /** Resolves once the CRD exists and the controller is installed; use as `dependsOn`. */
  public readonly ready: pulumi.Output<pulumi.Resource[]>;
  /** OLM only (Automatic approval): the CSV OLM installed (the Subscription's status.installedCSV). */
  public readonly installedCsv?: pulumi.Output<string>;

  constructor(name: string, args: FlightTicketOperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(OPERATOR_TYPE, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: LEGACY_OPERATOR_TYPE }] });
    // Validated once every input is known (at once for plain values): a bad setting fails `preview` naming it.
    const s = pulumi.output(args.settings).apply((v) => validateSettings(v as unknown as OperatorSettings));
    // What the caller said this operator comes after (e.g. OLM): the namespace
    // and the CatalogSource wait for it, everything else waits for them.
    const after = opts?.dependsOn ? { dependsOn: opts.dependsOn } : {};
    const operatorObjects = s.apply((settings) => Testing.synth(new OperatorChart(new App(), 'operator', { settings, createNamespace: true })) as any[]);
    this.serviceAccountName = operatorObjects.apply((objs) => objs.find((o) => o.kind === 'ServiceAccount')?.metadata.name as string);
    // The namespace first (the Secret needs it, and OLM installs into it), as the chart declares it.
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: operatorObjects.apply((objs) => objs.find((o) => o.kind === 'Namespace').metadata) },
      { parent: this, ...after },
    );
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
      const crdOptions = args.install.crd ?? {};
      const crd = new k8s.yaml.v2.ConfigGroup(
        `${name}-crd`,
        { objs: s.apply((settings) => Testing.synth(new CrdChart(new App(), 'crd', { version: settings.version }))) },
        { parent: this, ...after, ...(crdOptions.protect !== undefined ? { protect: crdOptions.protect } : {}), ...(crdOptions.retainOnDelete !== undefined ? { retainOnDelete: crdOptions.retainOnDelete } : {}) },
      );
      const controller = new k8s.yaml.v2.ConfigGroup(
        `${name}-controller`,
        { objs: operatorObjects.apply((objs) => objs.filter((o) => o.kind !== 'Namespace')) },
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
          metadata: { name: pulumi.interpolate`${s.packageName}-catalog`, namespace: olm.catalogNamespace },
          spec: pulumi.output(olm.catalog).apply((catalog) => ({ sourceType: 'grpc', displayName: 'Flight Operator', publisher: 'flight-operator project', ...catalog })),
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
          spec: pulumi.output(olm.targetNamespaces).apply((targets) => (targets.length ? { targetNamespaces: targets } : {})),
        },
        { parent: this, dependsOn: before },
      );
      const automatic = olm.approval === 'Automatic';
      const subscription = new k8s.apiextensions.CustomResource(
        `${name}-subscription`,
        {
          apiVersion: 'operators.coreos.com/v1alpha1',
          kind: 'Subscription',
          metadata: {
            name: s.packageName,
            namespace: namespace.metadata.name,
            // OLM creates the CSV, CRD, RBAC and Deployment, none of them a resource
            // of ours: the provider waits on the Subscription until OLM says the
            // release is installed (an InstallPlan that fails ends it at the timeout).
            // A preview never waits.
            annotations: automatic
              ? { 'pulumi.com/waitFor': 'jsonpath={.status.state}=AtLatestKnown', 'pulumi.com/timeoutSeconds': String(olm.timeoutSeconds ?? 300) }
              : { 'pulumi.com/skipAwait': 'true' },
          },
          spec: {
            name: s.packageName,
            channel: s.channel,
            source: source.metadata.name,
            sourceNamespace: olm.catalogNamespace,
            installPlanApproval: olm.approval,
            // OLM rewrites ConfigMaps shipped in a bundle; the Subscription's env is how users set the endpoint.
            config: { env: [{ name: 'BOOKING_API_URL', value: s.bookingApiUrl }] },
          },
          // Not set by us: registered as an output so installedCsv can read what OLM wrote.
          status: undefined,
        },
        { parent: this, dependsOn: [group, source, ...before] },
      );
      if (automatic) this.installedCsv = (subscription as unknown as { status: pulumi.Output<{ installedCSV?: string } | undefined> }).status.apply((st) => st?.installedCSV as string);
      this.ready = pulumi.output([subscription]);
    }
    this.registerOutputs({ namespace: this.namespace, installedCsv: this.installedCsv });
  }
}
