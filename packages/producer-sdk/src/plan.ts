import { MAX_BATCH_ENTRIES } from './limits.js';

/** What planning needs of an entry: where it goes, its size, and its transport's limit. */
export interface PlanEntry<TDestination> {
  destination: TDestination;
  bytes: number;
  /** The byte limit of one message and of a whole batch to this destination. */
  limit: number;
}

/**
 * Cuts entries into batch calls: grouped by destination (destinations in the order they first
 * appear, entries in input order within each, so a FIFO group keeps its order), each batch at
 * most `maxEntries` entries and at most the destination's byte limit in all. Pure: no calls, no
 * clock. An entry over the limit on its own still gets a batch of its own (the caller
 * claim-checks or refuses such entries before planning).
 */
export function planBatches<TEntry extends PlanEntry<unknown>>(
  entries: readonly TEntry[],
  maxEntries: number = MAX_BATCH_ENTRIES,
): { destination: TEntry['destination']; entries: TEntry[] }[] {
  const groups = new Map<TEntry['destination'], TEntry[]>();
  for (const entry of entries) {
    const group = groups.get(entry.destination);
    if (group) group.push(entry);
    else groups.set(entry.destination, [entry]);
  }
  const batches: { destination: TEntry['destination']; entries: TEntry[] }[] = [];
  for (const [destination, group] of groups) {
    let current: TEntry[] = [];
    let bytes = 0;
    for (const entry of group) {
      if (current.length > 0 && (current.length === maxEntries || bytes + entry.bytes > entry.limit)) {
        batches.push({ destination, entries: current });
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += entry.bytes;
    }
    if (current.length > 0) batches.push({ destination, entries: current });
  }
  return batches;
}
