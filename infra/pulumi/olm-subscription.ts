import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { OperatorSettings } from '../settings';

export interface OlmSubscriptionArgs {
  readonly settings: OperatorSettings;
  /** Catalog image (e.g. ghcr.io/flight-operator/catalog@sha256:...) or a gRPC address of `opm serve`. */
  readonly catalog: { image: string } | { address: string };
  /** Namespace of the CatalogSource (OLM's global catalog namespace, usually `olm`). */
  readonly catalogNamespace: string;
  /** Namespaces the operator watches; empty = all namespaces (needs the global OperatorGroup). */
  readonly targetNamespaces: string[];
}

/**
 * The operator through OLM: CatalogSource -> OperatorGroup -> Subscription.
 * OLM then resolves the bundle, creates the CRD, RBAC and Deployment from the
 * CSV, and upgrades along the channel.
 */
export class OlmSubscription extends pulumi.ComponentResource {
  public readonly subscription: k8s.apiextensions.CustomResource;

  constructor(name: string, args: OlmSubscriptionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('flights:index:OlmSubscription', name, {}, opts);
    const s = args.settings;
    const child = { parent: this };
    const namespace = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: s.namespace } }, child);
    const source = new k8s.apiextensions.CustomResource(
      `${name}-catalog`,
      {
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'CatalogSource',
        metadata: { name: `${s.packageName}-catalog`, namespace: args.catalogNamespace },
        spec: { sourceType: 'grpc', displayName: 'Flight Operator', publisher: 'flight-operator project', ...args.catalog },
      },
      child,
    );
    const group = new k8s.apiextensions.CustomResource(
      `${name}-group`,
      {
        apiVersion: 'operators.coreos.com/v1',
        kind: 'OperatorGroup',
        metadata: { name: s.packageName, namespace: namespace.metadata.name },
        // Must match an install mode the CSV supports (it supports all four).
        spec: args.targetNamespaces.length ? { targetNamespaces: args.targetNamespaces } : {},
      },
      child,
    );
    this.subscription = new k8s.apiextensions.CustomResource(
      `${name}-subscription`,
      {
        apiVersion: 'operators.coreos.com/v1alpha1',
        kind: 'Subscription',
        metadata: { name: s.packageName, namespace: namespace.metadata.name },
        spec: {
          name: s.packageName,
          channel: s.channel,
          source: source.metadata.name,
          sourceNamespace: args.catalogNamespace,
          installPlanApproval: 'Automatic',
        },
      },
      { ...child, dependsOn: [group, source] },
    );
    this.registerOutputs({ subscription: this.subscription.metadata.name });
  }
}
