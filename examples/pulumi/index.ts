/**
 * A user's own Pulumi program: the flight-operator from its component, then a
 * FlightTicket declared with the typed spec once the CRD exists and the
 * controller runs. `pulumi destroy` deletes the ticket first (its booking is
 * cancelled while the controller still runs), then the operator, then the CRD.
 *
 *   pulumi config set kubeconfig ~/.kube/config
 *   pulumi config set bookingApiUrl https://booking.example.com
 *   pulumi config set --secret bookingToken "$(cat token)"
 *   pulumi up
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { defaultSettings, FlightTicket, FlightTicketOperator } from '../../infra/pulumi/components';

const config = new pulumi.Config();
const provider = new k8s.Provider('cluster', { kubeconfig: config.require('kubeconfig'), enableServerSideApply: true });

const operator = new FlightTicketOperator(
  'flight-operator',
  {
    settings: defaultSettings({ namespace: 'flights-system', bookingApiUrl: config.require('bookingApiUrl') }),
    bookingToken: config.requireSecret('bookingToken'),
    install: { method: 'manifests' },
  },
  { providers: { kubernetes: provider } },
);

const ticket = new FlightTicket(
  'my-flight-ticket',
  { metadata: { name: 'my-flight-ticket', namespace: 'default' }, spec: { from: 'Cairo', to: 'London', number: 2 } },
  { provider, dependsOn: operator.ready },
);

export const operatorNamespace = operator.namespace;
export const ticketName = ticket.metadata.name;
