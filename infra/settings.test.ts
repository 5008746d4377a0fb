import { defaultSettings } from './defaults';
import { bookingApiPorts, isDigestPinned, OperatorSettings, validateSettings } from './settings';

const good: OperatorSettings = defaultSettings({ image: 'registry.example/flight/controller:1.0.0' });

describe('validateSettings', () => {
  test.each<[string, Partial<OperatorSettings>, string]>([
    ['replicas below 1', { replicas: 0 }, 'invalid operator setting "replicas": must be a whole number of at least 1, got 0'],
    ['fractional replicas', { replicas: 1.5 }, 'invalid operator setting "replicas": must be a whole number of at least 1, got 1.5'],
    ['no workers', { workers: 0 }, 'invalid operator setting "workers": must be a whole number from 1 to 100 (the controller\'s --concurrency), got 0'],
    ['more workers than the controller takes', { workers: 101 }, 'invalid operator setting "workers": must be a whole number from 1 to 100'],
    ['an image with neither digest nor tag', { image: 'registry.example/flight/controller' }, 'has neither a digest (@sha256:...) nor a tag (:v1)'],
    ['an image with a malformed digest', { image: 'registry.example/c@sha256:xyz' }, 'invalid operator setting "image": "registry.example/c@sha256:xyz" is not an image reference'],
    ['a version that is not semver', { version: '1.0' }, 'invalid operator setting "version": "1.0" is not semver (expected e.g. 0.1.0)'],
    ['a version with a v prefix', { version: 'v1.0.0' }, 'invalid operator setting "version": "v1.0.0" is not semver'],
    ['an empty channel', { channel: '' }, 'invalid operator setting "channel": must not be empty'],
    ['a blank channel', { channel: '  ' }, 'invalid operator setting "channel": must not be empty'],
    ['a namespace that is not a DNS label', { namespace: 'Flight_Ops' }, 'invalid operator setting "namespace"'],
    ['a booking URL that is not a URL', { bookingApiUrl: 'booking' }, 'invalid operator setting "bookingApiUrl": "booking" is not a URL'],
    ['a booking URL that is not http(s)', { bookingApiUrl: 'ftp://booking' }, 'must be http(s)'],
    [
      'egress to the API server without peers (would allow every destination)',
      { egress: { ...good.egress, apiServer: { to: [], ports: [443] } } },
      'invalid operator setting "egress.apiServer.to": must list at least one peer',
    ],
    [
      'egress to a CIDR that is not one',
      { egress: { ...good.egress, bookingApi: { to: [{ ipBlock: { cidr: '10.0.0.0' } }], ports: [] } } },
      'invalid operator setting "egress.bookingApi.to[0].ipBlock": "10.0.0.0" is not a CIDR',
    ],
    ['no install mode', { installModes: [] }, 'invalid operator setting "installModes": must list at least one install mode'],
    ['an unknown install mode', { installModes: ['Everywhere' as any] }, 'invalid operator setting "installModes": unknown Everywhere'],
    ['egress to port 0', { egress: { ...good.egress, dns: { ...good.egress.dns, ports: [0] } } }, 'invalid operator setting "egress.dns.ports": 0 is not a port'],
    ['egress to DNS without ports', { egress: { ...good.egress, dns: { ...good.egress.dns, ports: [] } } }, 'invalid operator setting "egress.dns.ports": must list at least one port'],
  ])('rejects %s', (_what, change, message) => {
    // GIVEN good settings WHEN one field goes bad THEN the error names it
    expect(() => validateSettings({ ...good, ...change })).toThrow(message);
  });

  test('accepts tags, digests and both', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    for (const image of ['registry.example/c:1.0.0', `registry.example/c@${digest}`, `localhost:5000/c:1.0@${digest}`]) {
      expect(validateSettings({ ...good, image }).image).toBe(image);
    }
    expect(isDigestPinned(`registry.example/c@${digest}`)).toBe(true);
    expect(isDigestPinned('registry.example/c:1.0.0')).toBe(false);
  });
});

describe('bookingApiPorts', () => {
  test.each([
    ['http://booking-api.flight-operator-system.svc:8080', [], [8080]],
    ['https://booking.example.com', [], [443]],
    ['http://booking.example.com', [], [80]],
    ['https://booking.example.com', [8443], [8443]],
  ])('GIVEN %s and egress ports %j THEN the NetworkPolicy allows %j', (bookingApiUrl, ports, expected) => {
    expect(bookingApiPorts({ ...good, bookingApiUrl, egress: { ...good.egress, bookingApi: { ...good.egress.bookingApi, ports } } })).toEqual(expected);
  });
});
