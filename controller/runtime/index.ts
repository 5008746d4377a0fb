/**
 * Generic controller runtime: small composable pieces in the style of
 * controller-runtime / kube-rs. Nothing here knows about any particular
 * resource. See docs/runtime.md for how they fit together.
 */
export * from './backoff';
export * from './client';
export * from './typed-client';
export * from './conditions';
export * from './controller';
export * from './events';
export * from './finalizer';
export * from './handlers';
export * from './health';
export * from './idle-gc';
export * from './informer';
export * from './leader-election';
export * from './logger';
export * from './metrics';
export * from './shutdown';
export * from './workqueue';
// Test helpers (in-memory apiserver) are deliberately not re-exported here:
// import them from test/support/fake-apiserver.ts in tests only.
