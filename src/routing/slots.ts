/**
 * Traffic split by slots: 100 slots, each owned by one target, a target owning
 * as many slots as its weight. A request takes the slot of its routing key's
 * hash (sticky) or a random slot. When weights change, only the slots that must
 * move do, from targets that lost weight to targets that gained it, so a key
 * moves only from a shrinking target to a growing one.
 */
export const SLOT_COUNT = 100;

export interface Weighted {
  id: string;
  weight: number;
}

/** Slot owners for the new weights, moving as few slots as possible from `previous`. */
export function assignSlots(targets: readonly Weighted[], previous?: readonly string[]): string[] {
  const want = new Map(targets.map((t) => [t.id, t.weight]));
  // Filled, not sparse: forEach and flatMap below must visit every slot.
  const slots: (string | undefined)[] =
    previous?.length === SLOT_COUNT ? [...previous] : Array.from({ length: SLOT_COUNT }, () => undefined);
  const owned = new Map<string, number[]>();
  slots.forEach((owner, slot) => {
    if (owner === undefined || !want.has(owner)) {
      slots[slot] = undefined;
      return;
    }
    owned.set(owner, [...(owned.get(owner) ?? []), slot]);
  });
  // Targets over their weight give up their highest slots.
  for (const [id, mine] of owned) {
    const excess = mine.length - want.get(id)!;
    for (const slot of mine.slice(mine.length - Math.max(0, excess))) slots[slot] = undefined;
  }
  // Targets under their weight take free slots, lowest first, in the order the route lists them.
  const free = slots.flatMap((owner, slot) => (owner === undefined ? [slot] : []));
  for (const t of targets) {
    const have = Math.min(owned.get(t.id)?.length ?? 0, t.weight);
    for (let i = have; i < t.weight; i++) slots[free.shift()!] = t.id;
  }
  return slots as string[];
}

/** FNV-1a, 32 bits: a stable, well-spread hash of a routing key. */
export function keySlot(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % SLOT_COUNT;
}

export function pickSlot(key: string | undefined, random: () => number = Math.random): number {
  return key === undefined ? Math.floor(random() * SLOT_COUNT) : keySlot(key);
}
