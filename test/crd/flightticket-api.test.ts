/**
 * The FlightTicket API as a user meets it: the synthesized CRD on a real
 * kube-apiserver, driven with kubectl.
 */
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { CrdChart } from '../../infra/charts/crd-chart';
import { kubectl } from '../../testenv/kube';

const ns = `crd-${process.pid}`;
const crdYaml = stringify(Testing.synth(new CrdChart(Testing.app(), 'crd'))[0]);

function ticket(spec: Record<string, unknown> | undefined, name = 'bad'): string {
  return stringify({ apiVersion: 'flights.com/v1', kind: 'FlightTicket', metadata: { name, namespace: ns }, ...(spec ? { spec } : {}) });
}

beforeAll(async () => {
  // GIVEN the CRD applied to the cluster, and a namespace for this file
  await kubectl(['apply', '--server-side', '-f', '-'], { input: crdYaml });
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/flighttickets.flights.com']);
  await kubectl(['create', 'namespace', ns]);
});
afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false'], { check: false });
});

describe('the FlightTicket CRD on a real API server', () => {
  test("accepts the seed's ticket and lists it with the printer columns under the short name ft", async () => {
    // WHEN the seed's ticket is created
    await kubectl(['create', '-f', '-'], { input: ticket({ from: 'Cairo', to: 'London', number: 2 }, 'my-flight-ticket') });
    // THEN kubectl get ft shows it with our columns
    const { stdout } = await kubectl(['get', 'ft', '-n', ns]);
    const [header, row] = stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual(['NAME', 'FROM', 'TO', 'SEATS', 'BOOKED', 'READY', 'STATUS', 'BOOKING', 'AGE']);
    expect(row).toMatch(/^my-flight-ticket\s+Cairo\s+London\s+2\s/);
    const { stdout: byCategory } = await kubectl(['get', 'flights', '-n', ns, '-o', 'name']);
    expect(byCategory.trim()).toBe('flightticket.flights.com/my-flight-ticket');
  });

  test('kubectl explain shows our field descriptions', async () => {
    const { stdout } = await kubectl(['explain', 'flightticket.spec.number']);
    expect(stdout).toContain('Number of seats to book, from 1 to 10.');
    const { stdout: spec } = await kubectl(['explain', 'flightticket.spec']);
    expect(spec).toContain('City of departure, e.g. Cairo.');
    expect(spec).toMatch(/from\s+<string> -required-/);
  });

  // Each invalid ticket is rejected by the API server with a message naming the field.
  test.each<[string, Record<string, unknown> | undefined, RegExp]>([
    ['zero seats', { from: 'Cairo', to: 'London', number: 0 }, /spec\.number: Invalid value: 0: spec\.number in body should be greater than or equal to 1/],
    ['eleven seats', { from: 'Cairo', to: 'London', number: 11 }, /spec\.number: Invalid value: 11: spec\.number in body should be less than or equal to 10/],
    ['negative seats', { from: 'Cairo', to: 'London', number: -1 }, /spec\.number: Invalid value: -1: spec\.number in body should be greater than or equal to 1/],
    ['fractional seats', { from: 'Cairo', to: 'London', number: 2.5 }, /spec\.number: Invalid value: "number": spec\.number in body must be of type integer: "number"/],
    ['seats as a word', { from: 'Cairo', to: 'London', number: 'two' }, /spec\.number: Invalid value: "string": spec\.number in body must be of type integer: "string"/],
    ['no seats', { from: 'Cairo', to: 'London' }, /spec\.number: Required value/],
    ['no from', { to: 'London', number: 2 }, /spec\.from: Required value/],
    ['an empty to', { from: 'Cairo', to: '', number: 2 }, /spec\.to: Invalid value: "": spec\.to in body should be at least 1 chars long/],
    ['from equal to to', { from: 'Cairo', to: 'Cairo', number: 2 }, /spec\.to: Invalid value: to must differ from from: a flight cannot land where it took off/],
    ['from equal to to but for case', { from: 'cairo', to: 'CAIRO', number: 2 }, /spec\.to: Invalid value: to must differ from from/],
    ['digits in a city', { from: 'Cairo2', to: 'London', number: 2 }, /spec\.from: Invalid value: "Cairo2": spec\.from in body should match/],
    ['a 65-character city', { from: 'A'.repeat(65), to: 'London', number: 2 }, /spec\.from: Too long: may not be (longer than|more than) 64/],
    ['an unknown spec field', { from: 'Cairo', to: 'London', number: 2, seatClass: 'first' }, /unknown field "spec\.seatClass"/],
    ['no spec at all', undefined, /spec: Required value/],
  ])('rejects a ticket with %s, naming the field', async (_what, spec, message) => {
    // WHEN created
    const r = await kubectl(['create', '-f', '-'], { input: ticket(spec), check: false });
    // THEN
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  test('an unknown field sent without strict validation is pruned, not stored', async () => {
    await kubectl(['create', '--validate=false', '-f', '-'], { input: ticket({ from: 'Cairo', to: 'Paris', number: 1, seatClass: 'first' }, 'pruned') });
    const { stdout } = await kubectl(['get', 'ft', 'pruned', '-n', ns, '-o', 'jsonpath={.spec}']);
    expect(JSON.parse(stdout)).toEqual({ from: 'Cairo', to: 'Paris', number: 1 });
  });
});
