import { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import { LATEST_RELEASE, versionAtLeast } from '../releases';
import { CRD_NAME, GROUP, KIND, PLURAL } from '../settings';

/**
 * Route names: letters first, then letters, spaces, dots, apostrophes and
 * hyphens ("New York", "St. John's", "Xi'an"), 64 characters at most. ASCII
 * only because the booking API's route table is ASCII.
 */
export const ROUTE_PATTERN = "^[A-Za-z][A-Za-z .'-]*$";
export const ROUTE_MAX_LENGTH = 64;

const condition = {
  type: 'object',
  description: 'A standard Kubernetes condition (metav1.Condition).',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', description: 'Ready: the booking matches the spec. Synced: the last reconcile succeeded.', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The metadata.generation this condition was computed from.' },
    lastTransitionTime: { type: 'string', format: 'date-time', description: 'When the status last changed.' },
    reason: { type: 'string', maxLength: 1024, description: 'A CamelCase reason, e.g. Booked, SoldOut, BookingServiceUnavailable.' },
    message: { type: 'string', maxLength: 32768, description: 'A human-readable explanation.' },
  },
};

/**
 * The FlightTicket CustomResourceDefinition: the API users talk to. The API
 * server itself rejects bad tickets with a message that names the field, so
 * the controller never sees them. A plain ApiObject rather than the typed L1
 * class: the L1 renames schema keys (openApiv3Schema, xKubernetesValidations), and a
 * CRD is easiest to review when the source reads like the YAML it becomes.
 */
export interface FlightTicketCrdProps {
  /** Operator release the CRD ships with (default: the latest); older releases keep their own columns. */
  readonly version?: string;
}

export class FlightTicketCrd extends Construct {
  public readonly crd: ApiObject;

  constructor(scope: Construct, id: string, props: FlightTicketCrdProps = {}) {
    super(scope, id);
    const version = props.version ?? LATEST_RELEASE.version;
    // 0.2.0: the seats the booking holds, beside the seats asked for (they differ while a change is in flight
    // or when it failed). A printer column only: the schema, and so every stored ticket, stays valid.
    const booked = versionAtLeast(version, '0.2.0') ? [{ name: 'Booked', type: 'integer', jsonPath: '.status.seats' }] : [];
    this.crd = new ApiObject(this, 'Resource', {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'flight-operator' } },
      spec: {
        group: GROUP,
        scope: 'Namespaced',
        names: {
          kind: KIND,
          listKind: `${KIND}List`,
          plural: PLURAL,
          singular: 'flightticket',
          shortNames: ['ft'],
          categories: ['flights'],
        },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            additionalPrinterColumns: [
              { name: 'From', type: 'string', jsonPath: '.spec.from' },
              { name: 'To', type: 'string', jsonPath: '.spec.to' },
              { name: 'Seats', type: 'integer', jsonPath: '.spec.number' },
              ...booked,
              { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
              { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
              { name: 'Booking', type: 'string', jsonPath: '.status.bookingRef' },
              { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            ],
            schema: {
              openAPIV3Schema: {
                type: 'object',
                description:
                  'FlightTicket asks for seats on a flight. The flight-operator books them through the booking API, keeps the booking matched to the spec, and cancels it when the ticket is deleted.',
                required: ['spec'],
                properties: {
                  apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
                  kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
                  metadata: { type: 'object' },
                  spec: {
                    type: 'object',
                    description: 'The flight wanted: where from, where to, and how many seats.',
                    required: ['from', 'to', 'number'],
                    properties: {
                      from: {
                        type: 'string',
                        minLength: 1,
                        maxLength: ROUTE_MAX_LENGTH,
                        pattern: ROUTE_PATTERN,
                        description: `City of departure, e.g. Cairo. Letters, spaces, dots, apostrophes and hyphens, starting with a letter; at most ${ROUTE_MAX_LENGTH} characters. Changing it books the new route first, then cancels the old booking.`,
                      },
                      to: {
                        type: 'string',
                        minLength: 1,
                        maxLength: ROUTE_MAX_LENGTH,
                        pattern: ROUTE_PATTERN,
                        description: `City of arrival, e.g. London; must differ from "from". Same character rules as "from". Changing it books the new route first, then cancels the old booking.`,
                      },
                      number: {
                        type: 'integer',
                        minimum: 1,
                        maximum: 10,
                        description: 'Number of seats to book, from 1 to 10. Changing it changes the seats of the existing booking.',
                      },
                    },
                    'x-kubernetes-validations': [
                      {
                        rule: 'self.from.lowerAscii() != self.to.lowerAscii()',
                        message: 'to must differ from from: a flight cannot land where it took off',
                        fieldPath: '.to',
                        reason: 'FieldValueInvalid',
                      },
                    ],
                  },
                  status: {
                    type: 'object',
                    description: 'What the controller last saw and did. Written by the controller only.',
                    properties: {
                      observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation the controller last acted on.' },
                      bookingRef: { type: 'string', description: 'ID of the active booking at the booking API.' },
                      seats: { type: 'integer', description: 'Seats held by the active booking.' },
                      route: { type: 'string', description: 'Route of the active booking, "From -> To".' },
                      pendingBookingKey: {
                        type: 'string',
                        description:
                          'Idempotency key of a booking request that may be in flight, where controllers up to 0.3.0 as first shipped recorded it before sending the request; still replayed. The controller now records the key in the flights.com/external-name annotation (a booking is named by its key).',
                      },
                      conditions: {
                        type: 'array',
                        description: 'Ready and Synced conditions.',
                        'x-kubernetes-list-type': 'map',
                        'x-kubernetes-list-map-keys': ['type'],
                        items: condition,
                      },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    });
  }
}
