/**
 * Two projects: `unit` needs nothing but Node; `integration` runs against a
 * real control plane (etcd + kube-apiserver + controller-manager + scheduler +
 * kwok) that testenv starts once per run. Jest runs TypeScript through SWC;
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
      globalSetup: '<rootDir>/testenv/jest-global-setup.ts',
      globalTeardown: '<rootDir>/testenv/jest-global-teardown.ts',
    },
  ],
};
