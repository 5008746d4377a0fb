/**
 * Prometheus plumbing: a Registry factory and get-or-create helpers.
 *
 * Why a registry per process instead of prom-client's global one: tests build
 * many controllers/queues in one process, and registering a metric name twice
 * throws. Every piece takes an optional `registry` and reuses metrics already
 * registered there (same name = same metric, distinguished by labels).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

export interface RegistryOptions {
  /** process_* and nodejs_* metrics (CPU, RSS, heap, event-loop lag, fds). Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. {pod}. */
  defaultLabels?: Record<string, string>;
}

export function createRegistry(opts: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export function getOrCreateCounter<L extends string>(registry: Registry, cfg: CounterConfiguration<L>): Counter<L> {
  const existing = registry.getSingleMetric(cfg.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ ...cfg, registers: [registry] });
}

export function getOrCreateGauge<L extends string>(registry: Registry, cfg: GaugeConfiguration<L>): Gauge<L> {
  const existing = registry.getSingleMetric(cfg.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ ...cfg, registers: [registry] });
}

export function getOrCreateHistogram<L extends string>(registry: Registry, cfg: HistogramConfiguration<L>): Histogram<L> {
  const existing = registry.getSingleMetric(cfg.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ ...cfg, registers: [registry] });
}

/**
 * client-go's rest_client_requests_total{code,method,host}: every apiserver
 * request made through KubeClient / instrumented API clients (see client.ts).
 */
export interface RestClientMetrics {
  observe(method: string, host: string, code: number | string, seconds: number): void;
}

export function restClientMetrics(registry: Registry): RestClientMetrics {
  const total = getOrCreateCounter(registry, {
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'] as const,
  });
  const latency = getOrCreateHistogram(registry, {
    name: 'rest_client_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by verb and host.',
    labelNames: ['verb', 'host'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
  });
  return {
    observe(method, host, code, seconds) {
      total.inc({ code: String(code), method: method.toUpperCase(), host });
      latency.observe({ verb: method.toUpperCase(), host }, seconds);
    },
  };
}
