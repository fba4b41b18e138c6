/** Suite loading and validation: every problem at once, as `path: message`, through the config loader too. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { loadSuites } from '../src/quality/suite.js';
import { ROOT, problemsOf, runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'llmsoak-quality-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

t.test('the example suite loads: every expectation type, prompt and messages forms', async (t) => {
  const [suite] = loadSuites({ suites: [{ name: 'golden', file: join(ROOT, 'examples/quality/golden.yaml') }] });
  t.ok(suite);
  t.equal(suite?.name, 'golden');
  t.ok((suite?.prompts.length ?? 0) >= 8);
  const kinds = new Set(suite?.prompts.map((p) => p.expect.kind));
  t.same([...kinds].sort(), ['contains', 'exact', 'jsonSchema', 'number', 'regex']);
  const japan = suite?.prompts.find((p) => p.id === 'capital-japan');
  t.same(
    japan?.messages.map((m) => m.role),
    ['system', 'user'],
  );
  t.equal(suite?.prompts.find((p) => p.id === 'add')?.messages[0]?.content, 'What is 17 + 25? Answer with only the number.');
});

t.test('a bare list of prompts is a suite too; maxTokens defaults to 64', async (t) => {
  const f = file('list.yaml', '- id: a\n  prompt: "What is 1 + 1?"\n  expect: { exact: "2" }\n');
  const [s] = loadSuites({ suites: [{ name: 'l', file: f }] });
  t.equal(s?.prompts[0]?.maxTokens, 64);
});

t.test('a bad suite file: every problem, each prefixed with the file and the path inside it', async (t) => {
  const f = file(
    'bad.yaml',
    [
      'prompts:',
      '  - id: ok',
      '    prompt: "What is 1 + 1?"',
      '    expect: { number: { value: 2 } }',
      '  - id: ok', // duplicate
      '    prompt: "x"',
      '    expect: { exact: "y" }',
      '  - prompt: "no id"', // missing id
      '    expect: { contains: "" }', // empty contains
      '  - id: both',
      '    prompt: "a"',
      '    messages: [{ role: user, content: "b" }]', // both forms
      '    expect: { exact: "a", regex: "b" }', // two kinds
      '  - id: badregex',
      '    prompt: "a"',
      '    expect: { regex: "(" }',
      '  - id: badnum',
      '    prompt: "a"',
      '    expect: { number: { tolerance: -1 } }',
      '    maxTokens: 0',
      '  - id: badschema',
      '    prompt: "a"',
      '    expect: { jsonSchema: { type: 12 } }',
      '  - id: roles',
      '    messages: [{ role: robot, content: "a" }, { role: user }]',
      '    expect: { exact: "a", ignoreCase: "yes" }',
      '    temperature: 0.7', // unknown key
      '  - id: nouser',
      '    messages: [{ role: system, content: "a" }]',
      '    expect: { number: { value: 1 }, ignoreCase: true }',
    ].join('\n'),
  );
  const p = problemsOf(() => loadSuites({ suites: [{ name: 'bad', file: f }] }));
  const at = `${f}: prompts`;
  const expected = [
    `${at}[1].id: duplicate id "ok"`,
    `${at}[2].id: is required`,
    `${at}[2].expect.contains: must be a non-empty string`,
    `${at}[3]: needs exactly one of prompt or messages`,
    `${at}[3].expect: needs exactly one of exact, contains, regex, number, jsonSchema (got exact, regex)`,
    `${at}[4].expect.regex: not a valid regular expression`,
    `${at}[5].maxTokens: must be an integer from 1 to 1000000`,
    `${at}[5].expect.number.value: is required`,
    `${at}[5].expect.number.tolerance: must be a number >= 0`,
    `${at}[6].expect.jsonSchema: not a valid JSON Schema`,
    `${at}[7].temperature: unknown key`,
    `${at}[7].messages[0].role: must be one of system, developer, user, assistant`,
    `${at}[7].messages[1].content: must be a string`,
    `${at}[7].expect.ignoreCase: must be a boolean`,
    `${at}[8].messages: needs at least one user message`,
    `${at}[8].expect.ignoreCase: applies to exact, contains and regex only`,
  ];
  for (const e of expected)
    t.ok(
      p.some((x) => x.startsWith(e)),
      `reports: ${e}`,
    );
  t.equal(p.length, expected.length, `nothing else:\n${p.join('\n')}`);
});

t.test('file-level problems: unreadable, not YAML, wrong shape, empty', async (t) => {
  t.match(
    problemsOf(() => loadSuites({ suites: [{ name: 'x', file: join(dir, 'missing.yaml') }] })),
    [/^quality\.suites\[0\]\.file: cannot read .*missing\.yaml \(ENOENT\)$/],
  );
  const notYaml = file('notyaml.yaml', 'prompts: [\n  - a: b: c');
  t.match(
    problemsOf(() => loadSuites({ suites: [{ name: 'x', file: notYaml }] })),
    [/notyaml\.yaml: line \d+ column \d+: /],
  );
  const scalar = file('scalar.yaml', '42\n');
  t.match(
    problemsOf(() => loadSuites({ suites: [{ name: 'x', file: scalar }] })),
    [/scalar\.yaml: must be a mapping with prompts, or a list of prompts \(got number\)/],
  );
  const extra = file('extra.yaml', 'prompt: []\n');
  t.same(
    problemsOf(() => loadSuites({ suites: [{ name: 'x', file: extra }] })),
    [`${extra}: prompt: unknown key (allowed: description, prompts)`, `${extra}: prompts: is required`],
  );
  const empty = file('empty.yaml', 'prompts: []\n');
  t.same(
    problemsOf(() => loadSuites({ suites: [{ name: 'x', file: empty }] })),
    [`${empty}: prompts: must hold at least one prompt`],
  );
});

t.test('through the config loader: inline prompts, suite rules, cron expression, all at once', async (t) => {
  const p = problemsOf(() =>
    loadConfig({
      document: {
        quality: {
          schedule: '61 * * * *',
          suites: [{ name: 'a', prompts: [{ id: 'x', prompt: 'What is 1 + 1?', expect: { number: { value: 'two' } } }] }, { name: 'a', file: join(dir, 'missing.yaml') }, { name: 'c' }],
        },
      },
    }),
  );
  t.same(p, [
    'quality.schedule: "61 * * * *" is not a cron expression (minute: 61 is a invalid expression for minute)',
    'quality.suites[0].prompts[0].expect.number.value: must be a number',
    'quality.suites[1].name: duplicate suite name "a"',
    `quality.suites[1].file: cannot read ${join(dir, 'missing.yaml')} (ENOENT)`,
    'quality.suites[2]: needs exactly one of file or prompts',
  ]);
  const schema = problemsOf(() => loadConfig({ document: { quality: { intervalSec: 0, timeoutMs: 'soon', suites: [{ name: '1bad', fil: 'x' }] } } }));
  t.ok(schema.includes('quality.intervalSec: must be > 0'), schema.join('\n'));
  t.ok(schema.includes('quality.timeoutMs: must be integer'));
  t.ok(schema.includes('quality.suites[0].fil: unknown key'));
  t.ok(schema.some((s) => s.startsWith('quality.suites[0].name: has the wrong form')));
  // intervalSec replaces the schedule; disabled checks are not loaded.
  t.doesNotThrow(() => loadConfig({ document: { quality: { schedule: 'never', intervalSec: 2, suites: [] } } }));
  t.doesNotThrow(() => loadConfig({ document: { quality: { enabled: false, suites: [{ name: 'x', file: join(dir, 'missing.yaml') }] } } }));
  const { config } = loadConfig({ document: {} });
  t.same(config.quality, { enabled: true, schedule: '0 * * * *', runOnStart: true, timeoutMs: 60000, suites: [] }, 'defaults: hourly, nothing to run');
  const env = loadConfig({ env: { LLMSOAK_QUALITY__INTERVAL_SEC: '5' } });
  t.equal(env.config.quality.intervalSec, 5, 'environment override');
});

t.test('check-config reports a bad suite file and accepts the example', async (t) => {
  const bad = file('cfg-bad.yaml', `quality:\n  suites:\n    - name: golden\n      file: ${join(dir, 'missing.yaml')}\n`);
  const r = await runCli(['check-config', bad]);
  t.equal(r.code, 2);
  t.match(r.stderr, /quality\.suites\[0\]\.file: cannot read .*missing\.yaml \(ENOENT\)/);
  const good = await runCli(['check-config', join(ROOT, 'examples/quality.yaml')], { env: { PATH: process.env.PATH ?? '' } });
  t.equal(good.code, 0, good.stderr);
});
