/**
 * The modes' config (mode.*, report.*, schedules.*) is declared in
 * src/config/modes.ts, below both the config and the modes: src/config/
 * imports no mode code (test/import-cycles.test.ts). Re-exported here for the
 * modes' own files.
 */
export * from '../config/modes.js';
