/**
 * The reconcile's view of FlightTickets on a real API server: reads from the
 * informer cache, writes through the generic runtime helpers, every write
 * conditional on the resourceVersion that was read (409 if the cache was stale).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { isNotFound, PatchType, type KubeClient } from '../runtime/client';
import { ensureFinalizer, patchStatus, removeFinalizer } from '../runtime/finalizer';
import type { Informer } from '../runtime/informer';
import type { CallOptions, Tickets } from './reconcile';
import { EXTERNAL_NAME_ANNOTATION, TICKET_API, type FlightTicket, type FlightTicketStatus } from './ticket';

export class KubeTickets implements Tickets {
  constructor(
    private readonly client: KubeClient,
    private readonly informer: Informer<KubernetesObject>,
  ) {}

  get(key: string): FlightTicket | undefined {
    const t = this.informer.get(key);
    // The cache is shared: hand out a copy so nothing mutates it.
    return t && (structuredClone(t) as unknown as FlightTicket);
  }

  async addFinalizer(ticket: FlightTicket, finalizer: string, opts: CallOptions = {}): Promise<FlightTicket> {
    return ((await ensureFinalizer(this.client, TICKET_API, asObject(ticket), finalizer, opts)) as unknown as FlightTicket | undefined) ?? ticket;
  }

  async removeFinalizer(ticket: FlightTicket, finalizer: string, opts: CallOptions = {}): Promise<void> {
    await removeFinalizer(this.client, TICKET_API, asObject(ticket), finalizer, opts);
  }

  recordKey(ticket: FlightTicket, finalizer: string, key: string, opts: CallOptions = {}): Promise<FlightTicket> {
    // A merge patch replaces the finalizers list whole; the resourceVersion
    // precondition keeps that from losing one.
    const finalizers = ticket.metadata.finalizers ?? [];
    const add = finalizers.includes(finalizer) ? {} : { finalizers: [...finalizers, finalizer] };
    return this.patchMetadata(ticket, { ...add, annotations: { [EXTERNAL_NAME_ANNOTATION]: key } }, opts);
  }

  async updateStatus(ticket: FlightTicket, status: FlightTicketStatus, opts: CallOptions = {}): Promise<FlightTicket> {
    // A merge patch keeps fields it does not mention: null out the ones that went away.
    const patch: Record<string, unknown> = { ...status };
    for (const k of Object.keys(ticket.status ?? {})) if ((status as Record<string, unknown>)[k] === undefined) patch[k] = null;
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete patch[k];
    return patchStatus<KubernetesObject>(this.client, TICKET_API, ticket.metadata, patch, {
      resourceVersion: ticket.metadata.resourceVersion,
      fieldManager: 'flight-operator',
      signal: opts.signal,
    }) as unknown as Promise<FlightTicket>;
  }

  setAnnotation(ticket: FlightTicket, key: string, value: string, opts: CallOptions = {}): Promise<FlightTicket> {
    return this.patchMetadata(ticket, { annotations: { [key]: value } }, opts);
  }

  /** A metadata merge patch; the resourceVersion in it is a precondition: 409 when the cache was stale. */
  private patchMetadata(ticket: FlightTicket, metadata: Record<string, unknown>, opts: CallOptions): Promise<FlightTicket> {
    const patch = { metadata: { resourceVersion: ticket.metadata.resourceVersion, ...metadata } };
    return this.client.patch<FlightTicket>(TICKET_API, ticket.metadata.namespace, ticket.metadata.name, patch, PatchType.MergePatch, {
      fieldManager: 'flight-operator',
      signal: opts.signal,
    });
  }

  live(namespace: string, name: string, opts: CallOptions = {}): Promise<FlightTicket | undefined> {
    return liveTicket(this.client, namespace, name, opts);
  }
}

/**
 * Ticket namespace/name read live from the API server (not the cache; a GET
 * without resourceVersion is a quorum read), undefined when there is none.
 */
export async function liveTicket(client: KubeClient, namespace: string, name: string, opts: CallOptions = {}): Promise<FlightTicket | undefined> {
  try {
    return (await client.get(TICKET_API, namespace, name, opts.signal)) as unknown as FlightTicket;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Our ticket type keeps metav1 times as the strings the wire carries; client-node's types say Date. */
const asObject = (t: FlightTicket) => t as unknown as KubernetesObject;
