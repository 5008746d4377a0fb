/**
 * testenv/kube.ts's kubectl(): a kubectl that exits before reading its stdin
 * (most commands never read it) must give its exit, not EPIPE. The real-node
 * project failed once on `kubectl delete pod --wait=false` with `write EPIPE`
 * from the helper's own stdin write. Here a command that exits at once without
 * reading stands in for kubectl, and the input is larger than a pipe buffer,
 * so the write is still pending when it exits.
 */
import { kubectl } from '../../testenv/kube';

const saved = { kubectl: process.env.FLIGHT_KUBECTL };
afterEach(() => {
  process.env.FLIGHT_KUBECTL = saved.kubectl;
});

test('a command that exits without reading its input resolves with its exit code, not EPIPE', async () => {
  // GIVEN a "kubectl" that exits 0 at once and an input bigger than a pipe buffer
  process.env.FLIGHT_KUBECTL = '/bin/true';
  // WHEN the helper runs it THEN it resolves with the exit, however far the write got
  await expect(kubectl(['get', 'pods'], { input: 'x'.repeat(4 << 20) })).resolves.toMatchObject({ code: 0 });
  // and a failing one is reported by its exit, as before
  process.env.FLIGHT_KUBECTL = '/bin/false';
  await expect(kubectl(['get', 'pods'], { input: 'x'.repeat(4 << 20) })).rejects.toThrow('kubectl get pods exited 1');
});
