/**
 * The simulator's automatic prefix cache, in the manner of vLLM v1's.
 *
 * A prompt (its token ids, as tokens.ts builds them) is cut into full blocks
 * of `blockSize` tokens; block i is identified by a hash chained over the
 * hash of block i-1 and its own ids, so a block matches only when the whole
 * prompt up to and including it matches. At admission the engine asks how
 * many leading blocks are cached: those tokens are not prefilled again. When
 * a prompt's prefill completes its full blocks are inserted. vLLM never serves
 * the whole prompt from the cache (the last token is always computed, for its
 * logits), so a lookup considers only the blocks within the first
 * promptTokens - 1 tokens.
 *
 * Simplifications against vLLM, on purpose: the cache is an LRU of block
 * hashes bounded in blocks, apart from the KV budget (vLLM keeps cached
 * blocks inside the KV pool and evicts only free ones); running sequences hold
 * their full KV even where it is shared; a preempted sequence looks up again
 * when readmitted (its own blocks are usually still there).
 */

/** Chained block hashes of the full blocks of `ids` (a trailing partial block has none). */
export function blockHashes(ids: ArrayLike<number>, blockSize: number): string[] {
  const blocks = Math.floor(ids.length / blockSize);
  const out: string[] = new Array<string>(blocks);
  // Two independent 32-bit lanes (FNV-1a style with a murmur finaliser): 64 bits, so
  // collisions among the few hundred thousand blocks a cache holds are out of reach.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let k = 0; k < blocks; k++) {
    const base = k * blockSize;
    for (let i = 0; i < blockSize; i++) {
      const v = ids[base + i] ?? 0;
      a = Math.imul(a ^ v, 0x01000193);
      b = Math.imul(b ^ (v + 0x9e3779b9), 0x85ebca6b);
      b ^= b >>> 13;
    }
    a = fmix(a ^ blockSize);
    b = fmix(b ^ k);
    out[k] = (a >>> 0).toString(36) + '.' + (b >>> 0).toString(36);
  }
  return out;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Block hashes kept in least-recently-used order, at most `capacityBlocks` of them. */
export class PrefixCache {
  /** Map iteration order is insertion order: the first key is the least recently used. */
  private readonly blocks = new Map<string, true>();

  constructor(readonly capacityBlocks: number) {}

  /** Blocks held now. */
  get size(): number {
    return this.blocks.size;
  }

  /**
   * How many leading blocks of `hashes` (at most `maxBlocks`) are cached; the
   * matched ones become the most recently used.
   */
  match(hashes: readonly string[], maxBlocks: number): number {
    const n = Math.min(hashes.length, maxBlocks);
    let hit = 0;
    while (hit < n && this.blocks.has(hashes[hit] as string)) hit++;
    for (let i = 0; i < hit; i++) this.touch(hashes[i] as string);
    return hit;
  }

  /** Cache these blocks (most recently used), evicting the least recently used beyond capacity. */
  insert(hashes: readonly string[]): void {
    if (this.capacityBlocks <= 0) return;
    for (const h of hashes) this.touch(h);
    let over = this.blocks.size - this.capacityBlocks;
    if (over <= 0) return;
    for (const k of this.blocks.keys()) {
      if (over-- <= 0) break;
      this.blocks.delete(k);
    }
  }

  clear(): void {
    this.blocks.clear();
  }

  private touch(h: string): void {
    this.blocks.delete(h);
    this.blocks.set(h, true);
  }
}
