/**
 * Points in slots: the id ↔ slot map, each slot's payload and version, which slots are alive,
 * and the free list that reuses deleted slots. Vector storages and payload indexes are keyed by
 * the same slot numbers.
 */
import { comparePointIds, type PointId } from './ids.ts';
import type { Payload } from './payload.ts';

const FIRST_SLOTS = 16;

export class SlotTable {
  readonly idToSlot = new Map<PointId, number>();
  slotIds: (PointId | undefined)[] = [];
  payloads: (Payload | null)[] = [];
  versions: number[] = [];
  alive = new Uint8Array(FIRST_SLOTS);
  /** Slots ever used: [0, slotCount) covers every live point. */
  slotCount = 0;
  liveCount = 0;
  private free: number[] = [];
  private sortedCache: number[] | null = null;

  slotOf(id: PointId): number | undefined {
    return this.idToSlot.get(id);
  }

  /** A slot for a new point; `grow` is told the new slot count when the table grows. */
  alloc(id: PointId, grow: (slots: number) => void): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slotCount++;
      if (this.alive.length < this.slotCount) {
        const grown = new Uint8Array(this.alive.length * 2);
        grown.set(this.alive);
        this.alive = grown;
      }
      grow(this.slotCount);
    }
    this.idToSlot.set(id, slot);
    this.slotIds[slot] = id;
    this.payloads[slot] = null;
    this.alive[slot] = 1;
    this.liveCount++;
    this.sortedCache = null;
    return slot;
  }

  release(slot: number): void {
    const id = this.slotIds[slot];
    if (id === undefined) return;
    this.idToSlot.delete(id);
    this.slotIds[slot] = undefined;
    this.payloads[slot] = null;
    this.alive[slot] = 0;
    this.liveCount--;
    this.free.push(slot);
    this.sortedCache = null;
  }

  /** Live slots in id order (cached until a point is added or removed). */
  sorted(): number[] {
    if (this.sortedCache) return this.sortedCache;
    const slots: number[] = [];
    for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1) slots.push(s);
    slots.sort((a, b) => comparePointIds(this.slotIds[a]!, this.slotIds[b]!));
    this.sortedCache = slots;
    return slots;
  }

  /** Every live slot, in slot order. */
  *live(): IterableIterator<number> {
    for (let s = 0; s < this.slotCount; s++) if (this.alive[s] === 1) yield s;
  }
}
