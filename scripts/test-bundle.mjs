#!/usr/bin/env node
// Imports the compiled test files given, one after another, into this one
// process: tap's root test runs their tests in that order and prints one TAP
// stream (scripts/run-tests.mjs runs the short unit files this way).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const f of process.argv.slice(2)) await import(pathToFileURL(resolve(f)).href);
