/**
 * From a recorded run (what the check wrote to its folder, or a fixture) to
 * the verdict: comparison with nvidia-smi, rule replay, dashboard names; and
 * the record's files. The device run, `--analyse DIR` and the tests all come
 * through analyse(), which reads nothing but the dashboards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compare } from './compare.js';
import { QUERY_FIELDS, parseDmon, parseQueryLine } from './reference.js';
import { replay } from './replay.js';
import { renderReport, type CheckResult } from './report.js';
import { PHASE_NAMES, type CollectorSample, type Phase } from './samples.js';
import { collectorSeriesNames, dashboardGpuNames, unknownPanelNames } from './series-names.js';

/** Everything one run recorded. */
export interface RunRecord {
  gpu: string;
  /** Fields the nvidia-smi query loop ran with. */
  queryFields: string[];
  /** `<arrival ms>,<csv line>` per query line. */
  queryLines: string[];
  /** `<arrival ms> <line>` per dmon line. */
  dmonLines: string[];
  collector: CollectorSample[];
  phases: Phase[];
  notes: string[];
  /** FAIL lines of the recording itself (the load failed, nvidia-smi printed nothing). */
  problems: string[];
}

export const FILES = {
  run: 'run.json',
  collector: 'collector.jsonl',
  query: 'nvidia-smi-query.csv',
  dmon: 'nvidia-smi-dmon.txt',
  table: 'table.md',
} as const;

export function writeRecord(dir: string, r: RunRecord): void {
  writeFileSync(join(dir, FILES.run), `${JSON.stringify({ gpu: r.gpu, queryFields: r.queryFields, phases: r.phases, notes: r.notes, problems: r.problems }, null, 2)}\n`);
  writeFileSync(join(dir, FILES.collector), r.collector.map((s) => JSON.stringify(s)).join('\n') + '\n');
  writeFileSync(join(dir, FILES.query), r.queryLines.join('\n') + '\n');
  writeFileSync(join(dir, FILES.dmon), r.dmonLines.join('\n') + '\n');
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

export function readRecord(dir: string): RunRecord {
  const head = JSON.parse(readFileSync(join(dir, FILES.run), 'utf8')) as Pick<RunRecord, 'gpu' | 'queryFields' | 'phases' | 'notes' | 'problems'>;
  return {
    ...head,
    collector: lines(readFileSync(join(dir, FILES.collector), 'utf8')).map((l) => JSON.parse(l) as CollectorSample),
    queryLines: lines(readFileSync(join(dir, FILES.query), 'utf8')),
    dmonLines: lines(readFileSync(join(dir, FILES.dmon), 'utf8')),
  };
}

/** Series names that had at least one value in the run. */
function producedNames(r: RunRecord): string[] {
  return [...new Set(r.collector.flatMap((s) => s.series.map((x) => x.name)))];
}

export async function analyse(r: RunRecord, dashboardsDir: string): Promise<{ result: CheckResult; markdown: string }> {
  const fields = r.queryFields.length > 0 ? r.queryFields : [...QUERY_FIELDS];
  const query = r.queryLines
    .flatMap((l) => parseQueryLine(l, fields) ?? [])
    .filter((s) => String(s.index) === r.gpu)
    .sort((a, b) => a.tMs - b.tMs);
  const dmon = parseDmon(r.dmonLines)
    .filter((s) => String(s.index) === r.gpu)
    .sort((a, b) => a.tMs - b.tMs);
  const collector = [...r.collector].sort((a, b) => a.tMs - b.tMs);
  const comparison = compare({ collector, query, dmon, phases: r.phases, gpu: r.gpu, defined: collectorSeriesNames() });
  const rep = await replay(collector, r.phases, r.gpu);
  const dashboards = unknownPanelNames(dashboardGpuNames(dashboardsDir), producedNames(r), 'this run produced');
  const names = r.phases.map((p) => p.name).join(',');
  const phaseProblems = names === PHASE_NAMES.join(',') ? [] : [`FAIL load: phases recorded [${names}], expected [${PHASE_NAMES.join(',')}]`];
  const result: CheckResult = {
    comparison,
    replay: rep,
    dashboards,
    failures: [...r.problems, ...phaseProblems, ...comparison.failures, ...rep.failures, ...dashboards],
  };
  const markdown = renderReport(result, { collector, dmon, phases: r.phases, gpu: r.gpu, notes: [...r.notes, ...rep.throttling] });
  return { result, markdown };
}
