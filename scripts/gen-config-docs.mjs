#!/usr/bin/env node
// Writes the configuration reference into docs/configuration.md (between its
// markers) from the config schema's descriptions, types and defaults
// (src/config/reference.ts). Run after editing a schema; test/config-docs.test.ts
// fails when the file is stale.  Usage: npm run gen:config-docs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withReference } from '../dist/src/config/reference.js';

const file = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
writeFileSync(file, withReference(readFileSync(file, 'utf8')));
console.log('wrote docs/configuration.md');
