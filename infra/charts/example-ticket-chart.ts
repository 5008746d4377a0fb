import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { FlightTicket, FlightTicketProps } from '../imports/flights.com';

/** The seed's ticket: two seats from Cairo to London. Also the CSV's alm-examples. */
export const SEED_TICKET: FlightTicketProps = {
  metadata: { name: 'my-flight-ticket' },
  spec: { from: 'Cairo', to: 'London', number: 2 },
};

export interface ExampleTicketChartProps {
  readonly namespace?: string;
}

/** An example FlightTicket, built with the typed class imported from our own CRD. */
export class ExampleTicketChart extends Chart {
  constructor(scope: Construct, id: string, props: ExampleTicketChartProps = {}) {
    super(scope, id, { namespace: props.namespace });
    new FlightTicket(this, 'Ticket', SEED_TICKET);
  }
}
