import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { FlightTicket as FlightTicketManifest, FlightTicketSpec } from '../imports/flights.com';

export interface FlightTicketArgs {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  /** Typed by the class `cdk8s import` generates from our own CRD (infra/imports/flights.com.ts). */
  readonly spec: FlightTicketSpec;
}

/**
 * A FlightTicket declared in a Pulumi program, with the typed spec of the
 * imported class. The API server validates it (server-side dry run during
 * `preview`). Give it `dependsOn: operator.ready` so that it is created after
 * the CRD and deleted while the controller still runs.
 */
export class FlightTicket extends k8s.apiextensions.CustomResource {
  constructor(name: string, args: FlightTicketArgs, opts?: pulumi.CustomResourceOptions) {
    super(name, FlightTicketManifest.manifest({ metadata: args.metadata, spec: args.spec }), opts);
  }
}
