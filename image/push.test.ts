import { retarget } from './push';

describe('retarget', () => {
  it('GIVEN a ghcr.io reference of dist/images WHEN pushed to another registry THEN only the registry changes, the digest is dropped (skopeo pushes a tag)', () => {
    expect(retarget(`ghcr.io/flight-operator/controller:0.1.0@sha256:${'a'.repeat(64)}`, 'registry.example.com/team/')).toBe('registry.example.com/team/flight-operator/controller:0.1.0');
    expect(retarget('ghcr.io/flight-operator/catalog:0.3.0', 'localhost:5000')).toBe('localhost:5000/flight-operator/catalog:0.3.0');
  });

  it('GIVEN a reference of another registry THEN it refuses', () => {
    expect(() => retarget('quay.io/x/y:1', 'localhost:5000')).toThrow(/not a ghcr.io image/);
  });
});
