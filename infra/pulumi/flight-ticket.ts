import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { FlightTicket as FlightTicketManifest, FlightTicketSpec } from '../imports/flights.com';

export interface FlightTicketArgs {
  readonly metadata?: pulumi.Input<{
    readonly name?: pulumi.Input<string>;
    readonly namespace?: pulumi.Input<string>;
    readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    readonly annotations?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  }>;
  /** Typed by the class `cdk8s import` generates from our own CRD (infra/imports/flights.com.ts); any field may come from another resource. */
  readonly spec: pulumi.Input<{ readonly [K in keyof FlightTicketSpec]: pulumi.Input<FlightTicketSpec[K]> }>;
}

/**
 * A FlightTicket declared in a Pulumi program, with the typed spec of the
 * imported class. The API server validates it (server-side dry run during
 * `preview`). Give it `dependsOn: operator.ready` so that it is created after
 * the CRD and deleted while the controller still runs.
 */
export class FlightTicket extends k8s.apiextensions.CustomResource {
  constructor(name: string, args: FlightTicketArgs, opts?: pulumi.CustomResourceOptions) {
    const { apiVersion, kind } = FlightTicketManifest.GVK;
    super(
      name,
      {
        apiVersion,
        kind,
        metadata: args.metadata,
        // The generated class's own conversion (camelCase props to the CRD's fields), once the spec is known.
        spec: pulumi.output(args.spec).apply((spec) => FlightTicketManifest.manifest({ spec: spec as FlightTicketSpec }).spec),
      },
      opts,
    );
  }
}
