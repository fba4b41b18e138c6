/**
 * User rules from config, in the same form as the built-in ones: conditions
 * over series functions (all must hold), `for`, severity, cause, and summary
 * and suggestion templates.
 *
 *   analyzer:
 *     rules:
 *       - id: slow_first_token
 *         severity: warning
 *         cause: slow_prefill
 *         forSec: 60
 *         windowSec: 300            # default: analyzer.windowSec
 *         when:
 *           - expr: quantile(0.99, llmsoak_time_to_first_token_seconds{scenario="short_qa"})
 *             op: ">"
 *             value: 1.5
 *         summary: "TTFT p99 {{0}} s above 1.5 s over {{window}} s"
 *         suggestion: "Check prefill: prompt lengths, chunked prefill."
 *
 * Series functions over the window: quantile(q, histogram{matchers}),
 * rate(selector) (per second, summed), increase(selector), avg(selector)
 * (average over time of the sum), max(selector) (maximum over time), and
 * last(selector) (the sum now). `{{N}}` is the value of condition N, `{{window}}`
 * the window in seconds.
 */
import type { Finding } from '../hint.js';
import { insufficient, ok, r4, type Rule, type RuleContext } from '../rule.js';
import type { UserCondition, UserRuleConfig } from '../config.js';

export type { UserCondition, UserRuleConfig } from '../config.js';

type Fn = 'quantile' | 'rate' | 'increase' | 'avg' | 'max' | 'last';
interface ParsedExpr {
  fn: Fn;
  q?: number;
  selector: string;
}

const SELECTOR = String.raw`[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?`;
const QUANTILE_RE = new RegExp(String.raw`^quantile\(\s*(0(?:\.\d+)?|1(?:\.0+)?)\s*,\s*(${SELECTOR})\s*\)$`);
const FN_RE = new RegExp(String.raw`^(rate|increase|avg|max|last)\(\s*(${SELECTOR})\s*\)$`);

/** Parse a condition's expression; undefined when it is not one of the functions above. */
export function parseExpr(expr: string): ParsedExpr | undefined {
  const e = expr.trim();
  const q = QUANTILE_RE.exec(e);
  if (q) return { fn: 'quantile', q: Number(q[1]), selector: q[2] as string };
  const f = FN_RE.exec(e);
  if (f) return { fn: f[1] as Fn, selector: f[2] as string };
  return undefined;
}

/** Config problems of user rules, as `path: message` (empty when valid). */
export function checkUserRules(rules: UserRuleConfig[], at = 'analyzer.rules', reserved: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  rules.forEach((r, i) => {
    if (ids.has(r.id) || reserved.has(r.id)) problems.push(`${at}[${i}].id: "${r.id}" is already a rule`);
    ids.add(r.id);
    r.when.forEach((c, j) => {
      if (!parseExpr(c.expr)) problems.push(`${at}[${i}].when[${j}].expr: not a series function (quantile(q, h), rate(s), increase(s), avg(s), max(s), last(s))`);
    });
  });
  return problems;
}

async function exprValue(ctx: RuleContext, p: ParsedExpr, w: number): Promise<number | undefined> {
  const { src, now } = ctx;
  switch (p.fn) {
    case 'quantile': {
      const brace = p.selector.indexOf('{');
      const metric = brace < 0 ? p.selector : p.selector.slice(0, brace);
      const matchers = brace < 0 ? undefined : p.selector.slice(brace + 1, -1);
      return src.quantile(p.q as number, metric, w, now, matchers);
    }
    case 'increase':
      return src.increase(p.selector, w, now);
    case 'rate': {
      const inc = await src.increase(p.selector, w, now);
      return inc === undefined ? undefined : inc / w;
    }
    case 'avg':
      return src.avgOverTime(p.selector, w, now);
    case 'max':
      return src.maxOverTime(p.selector, w, now);
    case 'last':
      return src.last(p.selector, now, 'sum');
  }
}

function holds(v: number, c: UserCondition): boolean {
  switch (c.op) {
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '==':
      return v === c.value;
    case '!=':
      return v !== c.value;
  }
}

function render(template: string, values: number[], window: number): string {
  return template.replace(/\{\{\s*(\d+|window)\s*\}\}/g, (_m, k: string) => (k === 'window' ? String(window) : String(r4(values[Number(k)] ?? NaN))));
}

export function userRule(cfg: UserRuleConfig): Rule {
  const parsed = cfg.when.map((c) => parseExpr(c.expr));
  return {
    id: cfg.id,
    severity: cfg.severity,
    forSec: cfg.forSec,
    description: `user rule: ${cfg.when.map((c) => `${c.expr} ${c.op} ${c.value}`).join(' and ')}`,
    async evaluate(ctx) {
      const w = cfg.windowSec ?? ctx.windowSec;
      const values: number[] = [];
      const missing: string[] = [];
      for (const [i, p] of parsed.entries()) {
        const v = p ? await exprValue(ctx, p, w) : undefined;
        if (v === undefined || Number.isNaN(v)) missing.push((cfg.when[i] as UserCondition).expr);
        values.push(v ?? NaN);
      }
      if (missing.length) return insufficient(...missing);
      if (!cfg.when.every((c, i) => holds(values[i] as number, c))) return ok();
      const evidence: Record<string, number | string> = { window_s: w };
      cfg.when.forEach((c, i) => {
        evidence[c.expr] = r4(values[i] as number);
      });
      const finding: Finding = {
        rule: cfg.id,
        severity: cfg.severity,
        cause: cfg.cause,
        summary: render(cfg.summary, values, w),
        suggestion: render(cfg.suggestion, values, w),
        confidence: 0.7,
        evidence,
      };
      return ok([finding]);
    },
  };
}
