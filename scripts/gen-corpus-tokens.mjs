// Writes src/traffic/corpus-tokens.ts from the built generator (run `npm run build` first; `npm run gen:corpus-tokens` does both).
import { writeFileSync } from 'node:fs';
import { computeCorpusTokenData, renderCorpusTokensModule } from '../dist/src/traffic/corpus-tokens-gen.js';

const out = new URL('../src/traffic/corpus-tokens.ts', import.meta.url);
writeFileSync(out, renderCorpusTokensModule(computeCorpusTokenData()));
console.log(`wrote ${out.pathname}`);
