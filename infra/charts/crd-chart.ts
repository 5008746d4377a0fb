import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { FlightTicketCrd } from '../constructs/flightticket-crd';

/** The CRD on its own, in a chart without a namespace (cdk8s stamps a chart namespace onto cluster-scoped objects too). */
export class CrdChart extends Chart {
  public readonly crd: FlightTicketCrd;
  constructor(scope: Construct, id: string, props: { version?: string } = {}) {
    super(scope, id);
    this.crd = new FlightTicketCrd(this, 'FlightTicket', props);
  }
}
