/**
 * Seat inventory per route. A route is an ordered (from, to) pair of city
 * names, matched ASCII case-insensitively (cityKey, the contract's rule); its capacity is the number of seats that
 * active bookings on it may hold together (a number, or "unlimited").
 *
 * Config file (YAML or JSON, --routes / BOOKING_ROUTES):
 *
 *   defaultCapacity: 5000        # for routes listed without a capacity
 *   anyRoute: false              # true: every from != to pair exists
 *   includeDefaults: false       # true: DEFAULT_ROUTES too (listed routes override)
 *   routes:
 *     - { from: Cairo, to: London, capacity: 300 }
 *     - { from: Oslo, to: Tromso }            # defaultCapacity
 *     - { from: Lima, to: Cusco, capacity: unlimited }
 *
 * The special value "default" (or no config) gives DEFAULT_ROUTES: every
 * ordered pair of DEFAULT_HUBS, 5000 seats each, so a test with 200 tickets of
 * up to 10 seats fits on any single route. "unlimited" gives anyRoute with
 * unlimited capacity (nothing is ever sold out or unknown except from == to).
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { cityKey } from '../booking-api/types';

export const UNLIMITED = Number.POSITIVE_INFINITY;

export const DEFAULT_HUBS = [
  'Cairo', 'London', 'Paris', 'Frankfurt', 'Amsterdam', 'Madrid', 'Rome',
  'Istanbul', 'Dubai', 'Doha', 'Nairobi', 'Lagos', 'Johannesburg', 'Mumbai',
  'Delhi', 'Singapore', 'Tokyo', 'Sydney', 'New York', 'Toronto', 'Chicago',
  'San Francisco', 'Sao Paulo', 'Mexico City',
] as const;

export const DEFAULT_CAPACITY = 5000;

export interface RouteConfig {
  defaultCapacity?: number | 'unlimited';
  anyRoute?: boolean;
  includeDefaults?: boolean;
  routes?: Array<{ from: string; to: string; capacity?: number | 'unlimited' }>;
}

export class RouteTable {
  private readonly capacities = new Map<string, number>();
  constructor(
    routes: Iterable<{ from: string; to: string; capacity: number }>,
    /** Capacity of a pair that is not listed; undefined: such a pair is an unknown route. */
    private readonly anyRouteCapacity?: number,
  ) {
    for (const r of routes) this.capacities.set(RouteTable.key(r.from, r.to), r.capacity);
  }

  /** The contract's one rule (booking-api/types.ts cityKey): ASCII case-insensitive, like the CRD's CEL check. */
  static key(from: string, to: string): string {
    return `${cityKey(from)}\u0000${cityKey(to)}`;
  }

  /** Capacity of the route, or undefined when there is no such route. */
  capacity(from: string, to: string): number | undefined {
    if (RouteTable.key(from, '') === RouteTable.key(to, '')) return undefined;
    return this.capacities.get(RouteTable.key(from, to)) ?? this.anyRouteCapacity;
  }

  get size(): number {
    return this.capacities.size;
  }

  static fromConfig(cfg: RouteConfig): RouteTable {
    const def = parseCapacity(cfg.defaultCapacity ?? DEFAULT_CAPACITY, 'defaultCapacity');
    const routes = (cfg.routes ?? []).map((r, i) => {
      if (typeof r?.from !== 'string' || typeof r?.to !== 'string' || !r.from.trim() || !r.to.trim()) {
        throw new Error(`routes[${i}]: from and to must be non-empty strings`);
      }
      return { from: r.from.trim(), to: r.to.trim(), capacity: r.capacity === undefined ? def : parseCapacity(r.capacity, `routes[${i}].capacity`) };
    });
    const base = cfg.includeDefaults ? RouteTable.defaultRoutes(def) : [];
    return new RouteTable([...base, ...routes], cfg.anyRoute ? def : undefined);
  }

  static defaultRoutes(capacity = DEFAULT_CAPACITY): Array<{ from: string; to: string; capacity: number }> {
    const routes: Array<{ from: string; to: string; capacity: number }> = [];
    for (const from of DEFAULT_HUBS) for (const to of DEFAULT_HUBS) if (from !== to) routes.push({ from, to, capacity });
    return routes;
  }

  static defaults(capacity = DEFAULT_CAPACITY): RouteTable {
    return new RouteTable(RouteTable.defaultRoutes(capacity));
  }

  static unlimited(): RouteTable {
    return new RouteTable([], UNLIMITED);
  }

  /** "default" | "unlimited" | path to a YAML/JSON file | inline YAML/JSON (starts with "{"). */
  static load(spec: string | RouteConfig | RouteTable | undefined): RouteTable {
    if (spec instanceof RouteTable) return spec;
    if (spec === undefined || spec === '' || spec === 'default') return RouteTable.defaults();
    if (spec === 'unlimited') return RouteTable.unlimited();
    if (typeof spec !== 'string') return RouteTable.fromConfig(spec);
    const text = spec.trimStart().startsWith('{') ? spec : readFileSync(spec, 'utf8');
    const parsed: unknown = YAML.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('routes config must be a mapping');
    return RouteTable.fromConfig(parsed as RouteConfig);
  }
}

function parseCapacity(v: unknown, what: string): number {
  if (v === 'unlimited') return UNLIMITED;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw new Error(`${what}: must be a non-negative integer or "unlimited"`);
}
