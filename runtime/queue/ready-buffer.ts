/**
 * @module queue/ready-buffer — messages waiting for a consumer: FIFO within a priority, higher
 * priorities first, with O(1) push, push-to-front and shift on the common single-priority path.
 */

/** A growable ring buffer: a plain array's `shift()` copies, which is quadratic over a long queue. */
export class Deque<T> {
  private items: (T | undefined)[] = new Array(16);
  private head = 0;
  size = 0;

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & (this.items.length - 1)] = item;
    this.size++;
  }

  unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.size++;
  }

  /** Front to back. */
  *values(): IterableIterator<T> {
    for (let index = 0; index < this.size; index++) yield this.items[(this.head + index) & (this.items.length - 1)] as T;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.size--;
    return item;
  }

  /** Capacity stays a power of two so the index wrap is a mask. */
  private grow(): void {
    const larger: (T | undefined)[] = new Array(this.items.length * 2);
    for (let index = 0; index < this.size; index++) larger[index] = this.items[(this.head + index) & (this.items.length - 1)];
    this.items = larger;
    this.head = 0;
  }
}

export class ReadyBuffer<T> {
  private readonly levels = new Map<number, Deque<T>>();
  /** Priorities present, highest first; few in practice, so a sorted array is enough. */
  private priorities: number[] = [];
  size = 0;

  /** Behind every message of the same priority. */
  push(priority: number, item: T): void {
    this.level(priority).push(item);
    this.size++;
  }

  /** Ahead of every message of the same priority (a released message keeps its place). */
  unshift(priority: number, item: T): void {
    this.level(priority).unshift(item);
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    for (const priority of this.priorities) {
      const level = this.levels.get(priority)!;
      if (level.size > 0) {
        this.size--;
        return level.shift();
      }
    }
    return undefined;
  }

  /** In delivery order: highest priority first, FIFO within one. */
  *values(): IterableIterator<T> {
    for (const priority of this.priorities) yield* this.levels.get(priority)!.values();
  }

  /** Takes out the first item `matches` accepts (a linear scan: for operators, not the hot path). */
  removeFirst(matches: (item: T) => boolean): T | undefined {
    for (const level of this.levels.values()) {
      const items = [...level.values()];
      const index = items.findIndex(matches);
      if (index < 0) continue;
      const [found] = items.splice(index, 1);
      while (level.shift() !== undefined);
      for (const item of items) level.push(item);
      this.size--;
      return found;
    }
    return undefined;
  }

  clear(): void {
    this.levels.clear();
    this.priorities = [];
    this.size = 0;
  }

  private level(priority: number): Deque<T> {
    let level = this.levels.get(priority);
    if (!level) {
      level = new Deque<T>();
      this.levels.set(priority, level);
      this.priorities = [...this.levels.keys()].sort((a, b) => b - a);
    }
    return level;
  }
}
