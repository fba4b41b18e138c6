/**
 * Child process for the kill -9 test (test/state.test.ts): writes
 * checkpoints of a few MB into a directory as fast as it can, each with a
 * generation number, until it is killed.
 */
import { writeCheckpoint, type SectionData } from '../src/state/checkpoint-file.js';

const dir = process.argv[2] as string;
let gen = 0;
const blob = new Float64Array(512 * 1024);
for (;;) {
  gen++;
  blob.fill(gen);
  const sections = new Map<string, SectionData>([['gen', { json: { gen }, blobs: [new Uint8Array(blob.buffer.slice(0))] }]]);
  await writeCheckpoint(dir, sections, { version: 'test', nowMs: Date.now() });
  if (gen === 1) process.stdout.write('first\n');
}
