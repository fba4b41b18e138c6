/**
 * An append-only text file that never blocks the event loop and never grows
 * without bound: lines go to a buffered async stream; when the disk does not
 * keep up (more than `maxBufferBytes` waiting) a line is dropped and counted,
 * not queued; past `maxBytes` the file is rotated to `<file>.1` … `<file>.<keep>`
 * (oldest deleted), so disk use stays under (keep + 1) × maxBytes.
 */
import { createWriteStream, mkdirSync, statSync, type WriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  file: string;
  /** Rotate before the file would pass this size, bytes. */
  maxBytes: number;
  /** Rotated files kept. */
  keep: number;
  /** Bytes waiting for the disk (in the stream or during a rotation) past which lines are dropped. */
  maxBufferBytes: number;
  /** A line was dropped (buffer full, or the file failed). */
  onDrop: () => void;
  /** The file failed (open, write, rename): called once per failure; lines are dropped until the next rotation. */
  onError: (err: Error) => void;
}

export class RotatingFile {
  private stream: WriteStream | undefined;
  /** Bytes in the current file (written or queued to it). */
  private size = 0;
  /** Lines waiting while the file is rotated. */
  private waiting: string[] = [];
  private waitingBytes = 0;
  private rotation: Promise<void> | undefined;
  private failed = false;
  private closed = false;

  constructor(private readonly o: RotatingFileOptions) {
    // Once at start (not on the hot path): the directory, and how full the file already is.
    mkdirSync(dirname(o.file), { recursive: true });
    try {
      this.size = statSync(o.file).size;
    } catch {
      this.size = 0;
    }
    this.open();
  }

  /** Append one line (it must end with a newline). False: dropped. */
  write(line: string): boolean {
    return this.closed ? this.drop() : this.append(line);
  }

  private append(line: string): boolean {
    const bytes = Buffer.byteLength(line);
    if (this.rotation || (this.size > 0 && this.size + bytes > this.o.maxBytes)) {
      if (this.waitingBytes + bytes > this.o.maxBufferBytes) return this.drop();
      this.waiting.push(line);
      this.waitingBytes += bytes;
      this.rotation ??= this.rotate();
      return true;
    }
    const s = this.stream;
    if (!s || this.failed || s.writableLength + bytes > this.o.maxBufferBytes) return this.drop();
    s.write(line);
    this.size += bytes;
    return true;
  }

  /** Flush what is buffered and close the file. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.rotation) await this.rotation;
    await this.end();
  }

  private drop(): false {
    this.o.onDrop();
    return false;
  }

  private open(): void {
    this.failed = false;
    const s = createWriteStream(this.o.file, { flags: 'a' });
    s.on('error', (err) => {
      if (s !== this.stream || this.failed) return;
      this.failed = true;
      this.o.onError(err);
    });
    this.stream = s;
  }

  private end(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      s.once('error', () => resolve());
      s.end(() => resolve());
    });
  }

  /** Close the file, shift the old ones (.1 → .2 …), reopen, then write what waited. */
  private async rotate(): Promise<void> {
    await this.end();
    const f = this.o.file;
    try {
      if (this.o.keep === 0) await unlink(f);
      else {
        for (let i = this.o.keep - 1; i >= 1; i--) await rename(`${f}.${i}`, `${f}.${i + 1}`).catch(ignoreMissing);
        await rename(f, `${f}.1`);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.onError(err as Error);
    }
    this.size = 0;
    this.open();
    const lines = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    this.rotation = undefined;
    for (const l of lines) this.append(l);
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
