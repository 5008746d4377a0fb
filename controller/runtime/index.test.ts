import * as runtime from './index';

describe('index', () => {
  it('re-exports the public API', () => {
    for (const name of [
      'Informer', 'kubeListerWatcher', 'objectKey', 'splitKey', 'WorkQueue', 'Controller', 'RetryAfterError',
      'LeaderElector', 'KubeClient', 'EventRecorder', 'ensureFinalizer', 'removeFinalizer', 'patchStatus',
      'setCondition', 'createLogger', 'Backoff', 'createRegistry', 'ProbeServer', 'startHealthServer',
      'installShutdown', 'onShutdownSignal', 'enqueueOnChange', 'mergePatchOptions',
    ]) {
      expect(runtime).toHaveProperty(name);
    }
  });

  it('knows nothing about the application domain (no domain words in this folder)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    // Spelled in pieces so this file passes its own check.
    const banned = new RegExp(['f' + 'light', 't' + 'icket', 'b' + 'ooking'].join('|'), 'i');
    for (const f of readdirSync(__dirname).filter((f) => f.endsWith('.ts'))) {
      expect([f, banned.test(readFileSync(`${__dirname}/${f}`, 'utf8'))]).toEqual([f, false]);
    }
  });
});
