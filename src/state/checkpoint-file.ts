/**
 * The checkpoint file: one versioned, checksummed snapshot, replaced
 * atomically, so that a kill -9 at any instant (even mid-write) leaves either
 * the previous checkpoint or the new one, whole, never a mix.
 *
 * Why a file and not SQLite: the state is one consistent snapshot written
 * every few minutes (not a stream of small updates), so a database buys
 * nothing but a native dependency (better-sqlite3 needs an install script and
 * a compiler; node:sqlite is not in Node 20). The classic recipe is enough
 * and is what etcd's and Prometheus' snapshot writers do: write to a
 * temporary file in the same directory, fsync it, rename it over the old one
 * (atomic on POSIX file systems), fsync the directory so the rename itself
 * is durable. The old checkpoint is kept as `checkpoint.prev` and is used if
 * the current one fails its checks.
 *
 * Layout (all integers big-endian):
 *   MAGIC "llmsoak-checkpoint\n" (19 bytes) · u32 format version
 *   · gzip(body) · sha256(body) (32 bytes) · u64 body length · END "\nend-ckpt" (9 bytes)
 *   body = u32 header length · header JSON · blobs (raw bytes, in header order)
 *   header = { createdAtMs, pid, version, littleEndian, sections: { name: { json, blobs: [byte lengths] } } }
 * Any failed check (magic, version, trailer, gzip CRC, length, SHA-256, JSON)
 * rejects the whole file with one line saying which.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { createGzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';

export const CHECKPOINT_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('llmsoak-checkpoint\n', 'ascii');
const END = Buffer.from('\nend-ckpt', 'ascii');
const TRAILER_BYTES = 32 + 8 + END.length;
export const CHECKPOINT_FILE = 'checkpoint';
export const PREVIOUS_FILE = 'checkpoint.prev';
const TMP_PREFIX = 'checkpoint.tmp-';
const gunzipAsync = promisify(gunzip);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** One component's part of a checkpoint: JSON-safe data plus binary blobs (typed arrays' bytes). */
export interface SectionData {
  json: unknown;
  blobs?: Uint8Array[];
}

export interface CheckpointContents {
  createdAtMs: number;
  /** llmsoak version that wrote it. */
  version: string;
  sections: Map<string, SectionData>;
}

/** Why a checkpoint could not be used, one line. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'CheckpointError';
  }
}

interface Header {
  createdAtMs: number;
  pid: number;
  version: string;
  littleEndian: boolean;
  sections: Record<string, { json: unknown; blobs: number[] }>;
}

/**
 * Write `sections` as the new checkpoint in `dir`, atomically (see the file
 * comment). The data is taken as it is now: callers pass copies. Resolves
 * with the bytes written.
 */
export async function writeCheckpoint(dir: string, sections: Map<string, SectionData>, meta: { version: string; nowMs: number; scrub?: (json: string) => string }): Promise<number> {
  await mkdir(dir, { recursive: true });
  const header: Header = { createdAtMs: meta.nowMs, pid: process.pid, version: meta.version, littleEndian: LITTLE_ENDIAN, sections: {} };
  const blobs: Uint8Array[] = [];
  for (const [name, s] of sections) {
    const list = s.blobs ?? [];
    header.sections[name] = { json: s.json, blobs: list.map((b) => b.byteLength) };
    blobs.push(...list);
  }
  const headerJson = JSON.stringify(header);
  const headerBytes = Buffer.from(meta.scrub ? meta.scrub(headerJson) : headerJson, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(headerBytes.length);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(CHECKPOINT_FORMAT_VERSION);

  const hash = createHash('sha256');
  let bodyLength = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bodyLength += chunk.length;
      cb(null, chunk);
    },
  });
  const tmp = join(dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const out = createWriteStream(tmp, { mode: 0o600 });
    out.write(MAGIC);
    out.write(version);
    // Blobs go in pieces of at most 1 MiB, so compression never holds the event loop.
    async function* body(): AsyncGenerator<Buffer> {
      yield len;
      yield headerBytes;
      for (const b of blobs) {
        const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
        for (let off = 0; off < buf.length; off += 1 << 20) yield buf.subarray(off, Math.min(buf.length, off + (1 << 20)));
      }
    }
    await pipeline(Readable.from(body()), hashing, createGzip({ level: 6 }), out, { end: false });
    const trailer = Buffer.alloc(TRAILER_BYTES);
    hash.digest().copy(trailer, 0);
    trailer.writeBigUInt64BE(BigInt(bodyLength), 32);
    END.copy(trailer, 40);
    await new Promise<void>((resolve, reject) => {
      out.once('close', resolve);
      out.once('error', reject);
      out.end(trailer);
    });
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const written = out.bytesWritten;
    // Keep the previous checkpoint as a fallback, then move the new one in.
    await rename(join(dir, CHECKPOINT_FILE), join(dir, PREVIOUS_FILE)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(tmp, join(dir, CHECKPOINT_FILE));
    await syncDir(dir);
    return written;
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some file systems cannot fsync a directory; the rename is still atomic
  }
}

/** Read and verify one checkpoint file. Throws CheckpointError (one line) when it is unusable. */
export async function readCheckpointFile(file: string): Promise<CheckpointContents> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (raw.length < MAGIC.length + 4 + TRAILER_BYTES || !raw.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CheckpointError(file, `not a llmsoak checkpoint (${raw.length} bytes, bad magic or truncated)`);
  }
  const fmt = raw.readUInt32BE(MAGIC.length);
  if (fmt !== CHECKPOINT_FORMAT_VERSION) throw new CheckpointError(file, `format version ${fmt}, this llmsoak reads ${CHECKPOINT_FORMAT_VERSION}`);
  const trailer = raw.subarray(raw.length - TRAILER_BYTES);
  if (!trailer.subarray(40).equals(END)) throw new CheckpointError(file, 'half-written (no end marker)');
  const wantSha = trailer.subarray(0, 32);
  const wantLen = Number(trailer.readBigUInt64BE(32));
  let body: Buffer;
  try {
    body = await gunzipAsync(raw.subarray(MAGIC.length + 4, raw.length - TRAILER_BYTES));
  } catch (err) {
    throw new CheckpointError(file, `corrupt (${(err as Error).message})`);
  }
  if (body.length !== wantLen) throw new CheckpointError(file, `corrupt (body is ${body.length} bytes, trailer says ${wantLen})`);
  if (!createHash('sha256').update(body).digest().equals(wantSha)) throw new CheckpointError(file, 'corrupt (SHA-256 mismatch)');
  let header: Header;
  let off: number;
  try {
    const hl = body.readUInt32BE(0);
    header = JSON.parse(body.subarray(4, 4 + hl).toString('utf8')) as Header;
    off = 4 + hl;
  } catch (err) {
    throw new CheckpointError(file, `corrupt header (${(err as Error).message})`);
  }
  if (header.littleEndian !== LITTLE_ENDIAN) throw new CheckpointError(file, 'written on a machine of the other byte order');
  const sections = new Map<string, SectionData>();
  for (const [name, s] of Object.entries(header.sections)) {
    const blobs: Uint8Array[] = [];
    for (const n of s.blobs) {
      if (off + n > body.length) throw new CheckpointError(file, `corrupt (section ${name} runs past the end)`);
      // A copy on its own ArrayBuffer: typed-array views over it need 8-byte alignment.
      blobs.push(new Uint8Array(body.subarray(off, off + n)));
      off += n;
    }
    sections.set(name, { json: s.json, blobs });
  }
  return { createdAtMs: header.createdAtMs, version: header.version, sections };
}

/**
 * The newest usable checkpoint in `dir`: the current one, else the previous
 * one. `problems` gets one line per file that exists but could not be used.
 * Leftover temporary files (a write cut by kill -9) are removed.
 */
export async function loadCheckpoint(dir: string, problems: string[]): Promise<(CheckpointContents & { file: string }) | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  for (const n of names) if (n.startsWith(TMP_PREFIX)) await rm(join(dir, n), { force: true }).catch(() => undefined);
  for (const name of [CHECKPOINT_FILE, PREVIOUS_FILE]) {
    if (!names.includes(name)) continue;
    const file = join(dir, name);
    try {
      return { ...(await readCheckpointFile(file)), file };
    } catch (err) {
      problems.push(err instanceof CheckpointError ? err.message : `${file}: ${String(err)}`);
    }
  }
  return undefined;
}

/** A Float64Array's bytes (a copy, so later writes to the array do not change the checkpoint). */
export function f64Bytes(a: Float64Array): Uint8Array {
  return new Uint8Array(a.slice().buffer);
}

/** A Float64Array over a blob (copied to an aligned buffer when needed). */
export function bytesToF64(b: Uint8Array): Float64Array {
  if (b.byteLength % 8 !== 0) throw new RangeError(`blob of ${b.byteLength} bytes is not a Float64Array`);
  const aligned = b.byteOffset % 8 === 0 ? b : new Uint8Array(b);
  return new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8);
}
