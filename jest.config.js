/**
 * Three projects: `unit` needs nothing but Node; `integration` runs against a
 * real control plane (etcd + kube-apiserver + controller-manager + scheduler +
 * kwok) that testenv starts once per run; `real-node` against a control plane
 * with one real node (containerd + kubelet, real containers) beside it. Jest runs TypeScript through SWC;
 * the ESM-only @kubernetes/client-node needs --experimental-vm-modules (see
 * package.json "jest").
 */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023' } }] };
module.exports = {
  // Global, not per project (jest ignores it there). Integration tests wait on real processes.
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/infra', '<rootDir>/controller', '<rootDir>/booking-service', '<rootDir>/image'],
      testMatch: ['**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      // A project of its own, with its own control plane and node.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/real-node/'],
      globalSetup: '<rootDir>/testenv/jest-global-setup.ts',
      globalTeardown: '<rootDir>/testenv/jest-global-teardown.ts',
    },
    {
      // One real node (containerd, kubelet, kube-proxy) beside its own control
      // plane, shared by the files of this project; only one can run on a
      // machine (testenv/real-node/node.ts).
      displayName: 'real-node',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/test/real-node'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/testenv/real-node/jest-global-setup.ts',
      globalTeardown: '<rootDir>/testenv/real-node/jest-global-teardown.ts',
      setupFiles: ['<rootDir>/testenv/real-node/jest-env.ts'],
    },
  ],
};
