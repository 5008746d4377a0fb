/**
 * Stand-in for @opentelemetry/api in the controller's bundle
 * (image/bundle-slim.ts). prom-client asks it for the active span only to
 * label exemplars, which the controller's metrics do not enable; without an
 * OpenTelemetry SDK in the process the real API answers "no span" too.
 */
export const context = { active: (): undefined => undefined };
export const trace = { getSpan: (): undefined => undefined };
