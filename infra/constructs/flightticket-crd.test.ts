import { Chart, Testing } from 'cdk8s';
import { FlightTicketCrd } from './flightticket-crd';

function synthCrd(version?: string) {
  // GIVEN a chart with the FlightTicket CRD (of the latest release unless a version is given)
  const chart = new Chart(Testing.app(), 'test');
  new FlightTicketCrd(chart, 'crd', { version });
  // WHEN it is synthesized
  const [crd, ...rest] = Testing.synth(chart);
  expect(rest).toHaveLength(0);
  return crd;
}

/** Walks a schema and returns the paths of properties that lack a description. */
function undescribed(schema: any, path: string): string[] {
  const own = schema.description ? [] : [path];
  const props = Object.entries(schema.properties ?? {}).flatMap(([k, v]) => (k === 'metadata' ? [] : undescribed(v, `${path}.${k}`)));
  const items = schema.items ? undescribed(schema.items, `${path}[]`) : [];
  return [...own, ...props, ...items];
}

describe('FlightTicketCrd', () => {
  test('names the API flights.com/v1 FlightTicket, namespaced, short name ft, category flights', () => {
    const crd = synthCrd();
    // THEN
    expect(crd.metadata.name).toBe('flighttickets.flights.com');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toEqual({
      kind: 'FlightTicket',
      listKind: 'FlightTicketList',
      plural: 'flighttickets',
      singular: 'flightticket',
      shortNames: ['ft'],
      categories: ['flights'],
    });
    expect(crd.spec.versions.map((v: any) => [v.name, v.served, v.storage])).toEqual([['v1', true, true]]);
  });

  test('spec requires from, to and an integer number of seats from 1 to 10', () => {
    const spec = synthCrd().spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec.required).toEqual(['from', 'to', 'number']);
    expect(spec.properties.number).toMatchObject({ type: 'integer', minimum: 1, maximum: 10 });
    for (const field of ['from', 'to']) {
      expect(spec.properties[field]).toMatchObject({ type: 'string', minLength: 1, maxLength: 64, pattern: "^[A-Za-z][A-Za-z .'-]*$" });
    }
  });

  test('a CEL rule rejects a ticket whose destination is its origin, naming the field "to"', () => {
    const spec = synthCrd().spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec['x-kubernetes-validations']).toEqual([
      {
        rule: 'self.from.lowerAscii() != self.to.lowerAscii()',
        message: 'to must differ from from: a flight cannot land where it took off',
        fieldPath: '.to',
        reason: 'FieldValueInvalid',
      },
    ]);
  });

  test('every spec and status field is described, so kubectl explain reads well', () => {
    const schema = synthCrd().spec.versions[0].schema.openAPIV3Schema;
    expect(undescribed(schema.properties.spec, 'spec')).toEqual([]);
    expect(undescribed(schema.properties.status, 'status')).toEqual([]);
  });

  test('status is a subresource holding conditions, observedGeneration, bookingRef and seats', () => {
    const version = synthCrd().spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    const status = version.schema.openAPIV3Schema.properties.status;
    expect(Object.keys(status.properties)).toEqual(
      expect.arrayContaining(['conditions', 'observedGeneration', 'bookingRef', 'seats', 'route', 'pendingBookingKey']),
    );
    expect(status.properties.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
  });

  test('kubectl get ft shows From, To, Seats, Booked (since 0.2.0), Ready, Status, Booking and Age', () => {
    const columns = synthCrd().spec.versions[0].additionalPrinterColumns;
    expect(columns.map((c: any) => `${c.name}=${c.jsonPath}`)).toEqual([
      'From=.spec.from',
      'To=.spec.to',
      'Seats=.spec.number',
      'Booked=.status.seats',
      'Ready=.status.conditions[?(@.type=="Ready")].status',
      'Status=.status.conditions[?(@.type=="Ready")].reason',
      'Booking=.status.bookingRef',
      'Age=.metadata.creationTimestamp',
    ]);
  });

  test('GIVEN release 0.1.0 THEN there is no Booked column, and the schema is the same as the latest release (the upgrade keeps every stored ticket valid)', () => {
    const old = synthCrd('0.1.0').spec.versions[0];
    const latest = synthCrd().spec.versions[0];
    expect(old.additionalPrinterColumns.map((c: any) => c.name)).not.toContain('Booked');
    expect(old.additionalPrinterColumns).toEqual(latest.additionalPrinterColumns.filter((c: any) => c.name !== 'Booked'));
    expect(old.schema).toEqual(latest.schema);
  });
});
