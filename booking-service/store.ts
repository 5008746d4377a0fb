/**
 * Durable booking store on node:sqlite.
 *
 * Durability: WAL journal with synchronous=FULL, so every COMMIT is fsync'd
 * before the HTTP response is written: a booking (or idempotency record) the
 * client saw acknowledged survives kill -9 and power loss. A creation (booking
 * row + seat usage + idempotency record) is one transaction, so a crash never
 * leaves half of it.
 *
 * One process per data dir: locking_mode=EXCLUSIVE holds the database lock for
 * the life of the connection (the OS drops it when the process dies, kill -9
 * included), so a second server on the same dir fails fast at open.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

import type { Booking, BookingState } from '../booking-api/types';

export type { Booking, BookingState } from '../booking-api/types';

export interface NewBooking {
  from: string;
  to: string;
  seats: number;
  owner: string;
  ownerRef: string | null;
  cluster: string | null;
}

export type CreateResult =
  | { kind: 'created'; booking: Booking }
  | { kind: 'replay'; booking: Booking }
  | { kind: 'key_reused' }
  | { kind: 'owner_closed' }
  | { kind: 'sold_out'; available: number };

export type UpdateResult =
  | { kind: 'updated' | 'unchanged'; booking: Booking }
  | { kind: 'not_found' }
  | { kind: 'cancelled'; booking: Booking }
  | { kind: 'sold_out'; available: number };

export type OrphanResult = { kind: 'updated' | 'unchanged'; booking: Booking } | { kind: 'not_found' } | { kind: 'cancelled'; booking: Booking };

export type ReownResult =
  | { kind: 'updated' | 'unchanged'; booking: Booking }
  | { kind: 'not_found' }
  | { kind: 'cancelled'; booking: Booking }
  | { kind: 'owner_changed'; booking: Booking };

export type IdempotencyRecord = { fingerprint: string; bookingId: string; status: number };

interface Row {
  seq: number;
  id: string;
  from_city: string;
  to_city: string;
  seats: number;
  owner: string;
  owner_ref: string | null;
  cluster: string | null;
  orphaned: number;
  state: BookingState;
  created_at: string;
  updated_at: string;
  version: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bookings (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  from_city TEXT NOT NULL,
  to_city TEXT NOT NULL,
  route TEXT NOT NULL,
  seats INTEGER NOT NULL CHECK (seats BETWEEN 1 AND 10),
  owner TEXT NOT NULL,
  owner_ref TEXT,
  state TEXT NOT NULL CHECK (state IN ('active', 'cancelled')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bookings_owner ON bookings (owner, seq);
CREATE TABLE IF NOT EXISTS route_usage (route TEXT PRIMARY KEY, seats_in_use INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS closed_owners (owner TEXT PRIMARY KEY, closed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  booking_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
`;

export class BookingStore {
  private readonly db: DatabaseSync;
  private readonly q: Record<
    'insert' | 'getById' | 'usage' | 'setUsage' | 'idemGet' | 'idemPut' | 'setSeats' | 'setOrphaned' | 'setOwner' | 'cancel' | 'countActive' | 'closedGet' | 'closedPut',
    StatementSync
  >;
  /** How many times this data dir has been opened (1 on a fresh dir). */
  readonly boots: number;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new DatabaseSync(join(dataDir, 'bookings.sqlite'));
    try {
      // Order matters: EXCLUSIVE before WAL keeps the wal-index in process memory.
      this.db.exec('PRAGMA locking_mode = EXCLUSIVE');
      const mode = this.db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string };
      if (mode.journal_mode !== 'wal') throw new Error(`could not enable WAL (got ${mode.journal_mode})`);
      this.db.exec('PRAGMA synchronous = FULL');
      this.db.exec('PRAGMA foreign_keys = ON');
      this.db.exec(SCHEMA);
      this.migrate();
      // A real write takes (and keeps) the exclusive lock now, not at the first booking.
      this.db.exec(`INSERT INTO meta (k, v) VALUES ('boots', '1') ON CONFLICT (k) DO UPDATE SET v = CAST(v AS INTEGER) + 1`);
    } catch (err) {
      this.db.close();
      const msg = (err as Error).message;
      if (/locked|busy/i.test(msg)) throw new Error(`data dir ${dataDir} is in use by another booking-service (${msg})`);
      throw err;
    }
    this.boots = Number((this.db.prepare(`SELECT v FROM meta WHERE k = 'boots'`).get() as { v: string }).v);
    const p = (sql: string) => this.db.prepare(sql);
    this.q = {
      insert: p(`INSERT INTO bookings (id, from_city, to_city, route, seats, owner, owner_ref, cluster, state, created_at, updated_at, version)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, 1) RETURNING *`),
      getById: p('SELECT * FROM bookings WHERE id = ?'),
      usage: p('SELECT seats_in_use FROM route_usage WHERE route = ?'),
      setUsage: p(`INSERT INTO route_usage (route, seats_in_use) VALUES (?, ?)
                   ON CONFLICT (route) DO UPDATE SET seats_in_use = excluded.seats_in_use`),
      idemGet: p('SELECT fingerprint, booking_id, status FROM idempotency WHERE key = ?'),
      idemPut: p('INSERT INTO idempotency (key, fingerprint, booking_id, status, created_at) VALUES (?, ?, ?, ?, ?)'),
      setSeats: p('UPDATE bookings SET seats = ?, updated_at = ?, version = version + 1 WHERE id = ? RETURNING *'),
      setOrphaned: p('UPDATE bookings SET orphaned = 1, updated_at = ?, version = version + 1 WHERE id = ? RETURNING *'),
      setOwner: p('UPDATE bookings SET owner = ?, owner_ref = ?, cluster = ?, orphaned = 0, updated_at = ?, version = version + 1 WHERE id = ? RETURNING *'),
      cancel: p(`UPDATE bookings SET state = 'cancelled', updated_at = ?, version = version + 1 WHERE id = ? RETURNING *`),
      countActive: p(`SELECT COUNT(*) AS n FROM bookings WHERE state = 'active'`),
      closedGet: p('SELECT closed_at FROM closed_owners WHERE owner = ?'),
      closedPut: p('INSERT INTO closed_owners (owner, closed_at) VALUES (?, ?) ON CONFLICT (owner) DO NOTHING'),
    };
  }

  /** Data dirs written before the cluster and orphaned columns existed get them (NULL / 0). */
  private migrate(): void {
    const cols = new Set((this.db.prepare('PRAGMA table_info(bookings)').all() as Array<{ name: string }>).map((c) => c.name));
    if (!cols.has('cluster')) this.db.exec('ALTER TABLE bookings ADD COLUMN cluster TEXT');
    if (!cols.has('orphaned')) this.db.exec('ALTER TABLE bookings ADD COLUMN orphaned INTEGER NOT NULL DEFAULT 0');
    this.db.exec('CREATE INDEX IF NOT EXISTS bookings_cluster ON bookings (cluster, seq)');
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /**
   * Runs fn atomically. Inside a batch (see batch()) it is a SAVEPOINT, so a
   * failing operation undoes only itself; otherwise its own transaction.
   */
  private tx<T>(fn: () => T): T {
    if (this.db.isTransaction) {
      this.db.exec('SAVEPOINT op');
      try {
        const out = fn();
        this.db.exec('RELEASE op');
        return out;
      } catch (err) {
        this.db.exec('ROLLBACK TO op');
        this.db.exec('RELEASE op');
        throw err;
      }
    }
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Group commit: runs every operation in ONE transaction (one fsync), each
   * in its own savepoint. Results are only valid once this returns (the
   * COMMIT is durable); if the COMMIT fails, every operation fails.
   */
  batch(ops: Array<() => unknown>): Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
    this.db.exec('BEGIN IMMEDIATE');
    const out = ops.map((op): { ok: true; value: unknown } | { ok: false; error: unknown } => {
      try {
        return { ok: true, value: this.tx(op) };
      } catch (error) {
        return { ok: false, error };
      }
    });
    try {
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      return ops.map(() => ({ ok: false, error }));
    }
    return out;
  }

  private used(route: string): number {
    const r = this.q.usage.get(route) as { seats_in_use: number } | undefined;
    return r?.seats_in_use ?? 0;
  }

  idempotencyRecord(key: string): IdempotencyRecord | undefined {
    const r = this.q.idemGet.get(key) as { fingerprint: string; booking_id: string; status: number } | undefined;
    return r && { fingerprint: r.fingerprint, bookingId: r.booking_id, status: r.status };
  }

  /**
   * Creates the booking and records the idempotency key in one transaction,
   * or replays / rejects per the key's record. Capacity is the route's
   * capacity at this moment (Infinity for unlimited).
   */
  create(key: string, fingerprint: string, route: string, input: NewBooking, capacity: number): CreateResult {
    return this.tx((): CreateResult => {
      const rec = this.idempotencyRecord(key);
      if (rec) {
        if (rec.fingerprint !== fingerprint) return { kind: 'key_reused' };
        return { kind: 'replay', booking: this.get(rec.bookingId)! };
      }
      // The booking is named by its key, so a client knows the id before it
      // sends the create. Only a booking from before that rule (bk_...) can
      // already have the name: the key counts as used.
      const id = key;
      if (this.get(id)) return { kind: 'key_reused' };
      // Checked in the same transaction as the insert: a create that commits
      // after its owner was closed cannot exist.
      if (this.closedAt(input.owner)) return { kind: 'owner_closed' };
      const used = this.used(route);
      if (used + input.seats > capacity) return { kind: 'sold_out', available: Math.max(0, capacity - used) };
      const now = new Date().toISOString();
      const row = this.q.insert.get(id, input.from, input.to, route, input.seats, input.owner, input.ownerRef, input.cluster, now, now) as unknown as Row;
      this.q.setUsage.run(route, used + input.seats);
      this.q.idemPut.run(key, fingerprint, id, 201, now);
      return { kind: 'created', booking: toBooking(row) };
    });
  }

  /** When the owner was closed (POST /v1/owners/{owner}/close), or undefined. */
  closedAt(owner: string): string | undefined {
    return (this.q.closedGet.get(owner) as { closed_at: string } | undefined)?.closed_at;
  }

  /** Closes the owner for good: no booking is ever created for it again. Idempotent: the first close's time stays. */
  closeOwner(owner: string): string {
    return this.tx(() => {
      this.q.closedPut.run(owner, new Date().toISOString());
      return this.closedAt(owner)!;
    });
  }

  get(id: string): Booking | undefined {
    const row = this.q.getById.get(id) as unknown as Row | undefined;
    return row && toBooking(row);
  }

  /** Oldest first; afterSeq is the cursor (exclusive). */
  list(opts: { owner?: string; state?: BookingState; cluster?: string; limit: number; afterSeq?: number }): { items: Booking[]; lastSeq?: number; more: boolean } {
    const where: string[] = ['seq > ?'];
    const args: Array<string | number> = [opts.afterSeq ?? 0];
    if (opts.owner !== undefined) {
      where.push('owner = ?');
      args.push(opts.owner);
    }
    if (opts.state !== undefined) {
      where.push('state = ?');
      args.push(opts.state);
    }
    if (opts.cluster !== undefined) {
      where.push('cluster = ?');
      args.push(opts.cluster);
    }
    args.push(opts.limit + 1);
    const rows = this.db.prepare(`SELECT * FROM bookings WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ?`).all(...args) as unknown as Row[];
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    return { items: page.map(toBooking), lastSeq: page.at(-1)?.seq, more };
  }

  updateSeats(id: string, seats: number, capacityOf: (route: string, from: string, to: string) => number): UpdateResult {
    return this.tx((): UpdateResult => {
      const row = this.q.getById.get(id) as unknown as (Row & { route: string }) | undefined;
      if (!row) return { kind: 'not_found' };
      if (row.state === 'cancelled') return { kind: 'cancelled', booking: toBooking(row) };
      if (row.seats === seats) return { kind: 'unchanged', booking: toBooking(row) };
      const used = this.used(row.route);
      const delta = seats - row.seats;
      if (delta > 0) {
        const capacity = capacityOf(row.route, row.from_city, row.to_city);
        if (used + delta > capacity) return { kind: 'sold_out', available: Math.max(0, capacity - used) };
      }
      this.q.setUsage.run(row.route, Math.max(0, used + delta));
      const updated = this.q.setSeats.get(seats, new Date().toISOString(), id) as unknown as Row;
      return { kind: 'updated', booking: toBooking(updated) };
    });
  }

  /** Marks an active booking orphaned (its owner was deleted on purpose); idempotent. */
  markOrphaned(id: string): OrphanResult {
    return this.tx((): OrphanResult => {
      const row = this.q.getById.get(id) as unknown as Row | undefined;
      if (!row) return { kind: 'not_found' };
      if (row.state === 'cancelled') return { kind: 'cancelled', booking: toBooking(row) };
      if (row.orphaned) return { kind: 'unchanged', booking: toBooking(row) };
      return { kind: 'updated', booking: toBooking(this.q.setOrphaned.get(new Date().toISOString(), id) as unknown as Row) };
    });
  }

  /**
   * Moves an active booking to a new owner (ownerRef and cluster are set as
   * given, null when absent) and clears orphaned: it has an owner again.
   * Idempotent: when it already has exactly that owner, ownerRef and cluster,
   * nothing changes. With expectedOwner, a booking owned by neither it nor
   * the new owner is refused (someone else moved it first).
   */
  reown(id: string, to: { owner: string; ownerRef: string | null; cluster: string | null; expectedOwner?: string }): ReownResult {
    return this.tx((): ReownResult => {
      const row = this.q.getById.get(id) as unknown as Row | undefined;
      if (!row) return { kind: 'not_found' };
      if (row.state === 'cancelled') return { kind: 'cancelled', booking: toBooking(row) };
      if (row.owner === to.owner && row.owner_ref === to.ownerRef && (row.cluster ?? null) === to.cluster && !row.orphaned) {
        return { kind: 'unchanged', booking: toBooking(row) };
      }
      if (to.expectedOwner !== undefined && row.owner !== to.expectedOwner && row.owner !== to.owner) return { kind: 'owner_changed', booking: toBooking(row) };
      const updated = this.q.setOwner.get(to.owner, to.ownerRef, to.cluster, new Date().toISOString(), id) as unknown as Row;
      return { kind: 'updated', booking: toBooking(updated) };
    });
  }

  /** With ifVersion, a booking changed since that version is left as it is (version_mismatch). */
  cancel(id: string, ifVersion?: number): { kind: 'cancelled' | 'unchanged' | 'version_mismatch'; booking: Booking } | { kind: 'not_found' } {
    return this.tx(() => {
      const row = this.q.getById.get(id) as unknown as (Row & { route: string }) | undefined;
      if (!row) return { kind: 'not_found' as const };
      if (row.state === 'cancelled') return { kind: 'unchanged' as const, booking: toBooking(row) };
      if (ifVersion !== undefined && row.version !== ifVersion) return { kind: 'version_mismatch' as const, booking: toBooking(row) };
      this.q.setUsage.run(row.route, Math.max(0, this.used(row.route) - row.seats));
      const updated = this.q.cancel.get(new Date().toISOString(), id) as unknown as Row;
      return { kind: 'cancelled' as const, booking: toBooking(updated) };
    });
  }

  /**
   * What this data dir holds: bookings ever created (each under exactly one
   * idempotency key, in the same transaction), by state, and the keys
   * recorded. Read-only; for tests and operators (GET /admin/stats).
   */
  stats(): { bookings: { created: number; active: number; cancelled: number }; idempotencyKeys: number } {
    const b = this.db.prepare(`SELECT COUNT(*) AS created, COALESCE(SUM(state = 'active'), 0) AS active FROM bookings`).get() as { created: number; active: number };
    const k = this.db.prepare('SELECT COUNT(*) AS n FROM idempotency').get() as { n: number };
    const created = Number(b.created);
    const active = Number(b.active);
    return { bookings: { created, active, cancelled: created - active }, idempotencyKeys: Number(k.n) };
  }

  activeCount(): number {
    return Number((this.q.countActive.get() as { n: number }).n);
  }

  seatsInUse(route: string): number {
    return this.used(route);
  }
}

function toBooking(r: Row): Booking {
  return {
    id: r.id,
    from: r.from_city,
    to: r.to_city,
    seats: r.seats,
    owner: r.owner,
    ownerRef: r.owner_ref,
    cluster: r.cluster ?? null,
    orphaned: r.orphaned === 1,
    state: r.state,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: r.version,
  };
}
