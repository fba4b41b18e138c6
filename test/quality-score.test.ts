/** Scoring of each expectation type, and the number and JSON extraction behind them. */
import t from 'tap';
import { checkAnswer, extractJson, lastNumber } from '../src/quality/score.js';
import { validatePrompts, type Expectation } from '../src/quality/suite.js';

/** The expectation of one prompt, through the same validation as a suite file. */
function expectation(expect: Record<string, unknown>): Expectation {
  const problems: string[] = [];
  const prompts = validatePrompts([{ id: 'p', prompt: 'q', expect }], 'prompts', problems);
  if (!prompts?.[0]) throw new Error(problems.join('; '));
  return prompts[0].expect;
}

const pass = (e: Record<string, unknown>, answer: string) => checkAnswer(expectation(e), answer).pass;

t.test('exact: the whole answer, trimmed; ignoreCase on request', async (t) => {
  t.ok(pass({ exact: '84' }, '84'));
  t.ok(pass({ exact: '84' }, '  84\n'), 'surrounding whitespace does not count');
  t.notOk(pass({ exact: '84' }, '84.'), 'anything else does');
  t.notOk(pass({ exact: 'Paris' }, 'paris'), 'case counts by default');
  t.ok(pass({ exact: 'Paris', ignoreCase: true }, 'PARIS'));
  const r = checkAnswer(expectation({ exact: '84' }), 'eighty-four');
  t.match(r.detail, /expected exactly "84", got "eighty-four"/, 'detail says why');
});

t.test('contains: a substring; ignoreCase on request', async (t) => {
  t.ok(pass({ contains: 'Paris' }, 'The capital is Paris.'));
  t.notOk(pass({ contains: 'Paris' }, 'The capital is paris.'));
  t.ok(pass({ contains: 'Paris', ignoreCase: true }, 'the capital is PARIS'));
  t.notOk(pass({ contains: 'Paris' }, 'Berlin'));
});

t.test('regex: JavaScript syntax, ignoreCase as the i flag', async (t) => {
  t.ok(pass({ regex: '^\\s*999\\s*\\.?$' }, ' 999.'));
  t.notOk(pass({ regex: '^\\s*999\\s*\\.?$' }, '1499'));
  t.notOk(pass({ regex: '^tokyo$' }, 'Tokyo'));
  t.ok(pass({ regex: '^tokyo$', ignoreCase: true }, 'Tokyo'));
  t.match(checkAnswer(expectation({ regex: '^a$' }), 'b').detail, /expected to match \/\^a\$\//);
});

t.test('number: the last number in the answer, within tolerance', async (t) => {
  t.ok(pass({ number: { value: 42 } }, '42'));
  t.ok(pass({ number: { value: 42 } }, '17 + 25 = 42.'), 'the last number is the answer');
  t.notOk(pass({ number: { value: 42 } }, '42 is wrong, it is 43'));
  t.ok(pass({ number: { value: 12.5, tolerance: 0.01 } }, '12.5'));
  t.ok(pass({ number: { value: 12.5, tolerance: 0.01 } }, 'about 12.509'));
  t.notOk(pass({ number: { value: 12.5, tolerance: 0.01 } }, '12.52'));
  t.ok(pass({ number: { value: 1234567 } }, 'It is 1,234,567.'), 'thousands separators');
  t.ok(pass({ number: { value: -3 } }, 'minus: -3'));
  t.ok(pass({ number: { value: 1500 } }, '1.5e3'));
  t.notOk(pass({ number: { value: 0 } }, 'zero'), 'no number is a fail');
  t.match(checkAnswer(expectation({ number: { value: 7 } }), 'seven').detail, /no number/);
  t.match(checkAnswer(expectation({ number: { value: 7, tolerance: 1 } }), '11').detail, /expected 7 ± 1, got 11/);
  t.equal(lastNumber('none'), undefined);
  t.equal(lastNumber('a .5 b'), 0.5);
});

t.test('jsonSchema: the answer (fences and prose around it removed) validates', async (t) => {
  const schema = { jsonSchema: { type: 'object', required: ['answer'], properties: { answer: { const: 42 } } } };
  t.ok(pass(schema, '{"answer":42}'));
  t.ok(pass(schema, '```json\n{"answer": 42}\n```'), 'code fence');
  t.ok(pass(schema, 'Here it is: {"answer": 42} (hope that helps)'), 'prose around it');
  t.notOk(pass(schema, '{"answer":63}'), 'wrong value');
  t.notOk(pass(schema, '{"result":42}'), 'wrong shape');
  t.notOk(pass(schema, 'forty-two'), 'not JSON');
  t.match(checkAnswer(expectation(schema), '{"answer":63}').detail, /does not match the schema \(\/answer must be equal to constant\)/);
  t.match(checkAnswer(expectation(schema), 'nope').detail, /expected JSON/);
  t.same(extractJson('[1, 2]'), { value: [1, 2] });
  t.equal(extractJson('{ broken'), undefined);
});
