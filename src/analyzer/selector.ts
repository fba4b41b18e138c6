/**
 * PromQL series selectors: `name{label="v", other!="w", re=~"a|b", nre!~"x.*"}`,
 * `{__name__="name"}`, or a bare `name`. Parsed once and cached, so rules may
 * pass the same selector string on every evaluation at no cost.
 *
 * Semantics follow Prometheus: regexes are fully anchored (`=~"a"` matches
 * only "a"), a label that is absent matches as the empty string (so
 * `{x=""}` selects series without `x`, `{x!=""}` series with it), and strings
 * take Go-style escapes (\" \\ \n \t \uXXXX). A selector must not match every
 * series by empty matchers alone; here that is allowed (the local store is
 * small), but the Prometheus-backed source would refuse it.
 */

/** One label matcher. */
export interface Matcher {
  /** Label name; `__name__` for the metric name. */
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  /** The literal value, or the regex source (unanchored, as written). */
  value: string;
  /** Compiled, anchored regex for =~ and !~. */
  re?: RegExp;
}

/** A parsed selector. */
export interface Selector {
  /** Metric name when the selector names exactly one (`name{…}` or `{__name__="name"}`). */
  name: string | undefined;
  /** Every matcher, the metric name included as `__name__ = name`. */
  matchers: Matcher[];
}

const NAME_RE = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_RE = /[a-zA-Z_][a-zA-Z0-9_]*/y;

const cache = new Map<string, Selector>();
const CACHE_MAX = 4096;

/**
 * Parse a selector (cached). Throws SyntaxError on a malformed selector: that
 * is a bug in the rule, never absence of data.
 */
export function parseSelector(text: string): Selector {
  const hit = cache.get(text);
  if (hit) return hit;
  const sel = parse(text);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(text, sel);
  return sel;
}

/**
 * Parse a list of matchers without a metric name, with or without braces:
 * `model="x",scenario=~"a.*"` or `{model="x"}`. Empty or undefined gives [].
 */
export function parseMatchers(text: string | undefined): Matcher[] {
  if (text === undefined) return [];
  const s = text.trim();
  if (s === '') return [];
  return parseSelector(s.startsWith('{') ? s : `{${s}}`).matchers;
}

function parse(text: string): Selector {
  let i = 0;
  const s = text;
  const fail = (msg: string): never => {
    throw new SyntaxError(`selector ${JSON.stringify(text)}: ${msg} at ${i}`);
  };
  const ws = () => {
    while (i < s.length && /\s/.test(s[i] as string)) i++;
  };
  const matchers: Matcher[] = [];
  ws();
  NAME_RE.lastIndex = i;
  const m = NAME_RE.exec(s);
  let name: string | undefined;
  if (m) {
    name = m[0];
    i += name.length;
    matchers.push({ name: '__name__', op: '=', value: name });
  }
  ws();
  if (s[i] === '{') {
    i++;
    for (;;) {
      ws();
      if (s[i] === '}') {
        i++;
        break;
      }
      LABEL_RE.lastIndex = i;
      const l = LABEL_RE.exec(s);
      if (!l) fail('expected a label name');
      const label = (l as RegExpExecArray)[0];
      i += label.length;
      ws();
      let op: Matcher['op'];
      if (s.startsWith('=~', i)) op = '=~';
      else if (s.startsWith('!~', i)) op = '!~';
      else if (s.startsWith('!=', i)) op = '!=';
      else if (s[i] === '=') op = '=';
      else return fail('expected =, !=, =~ or !~');
      i += op.length;
      ws();
      const [value, end] = readString(s, i, fail);
      i = end;
      const matcher: Matcher = { name: label, op, value };
      if (op === '=~' || op === '!~') {
        try {
          matcher.re = new RegExp(`^(?:${value})$`, 's');
        } catch (err) {
          fail(`bad regex ${JSON.stringify(value)}: ${(err as Error).message}`);
        }
      }
      matchers.push(matcher);
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '}') {
        i++;
        break;
      }
      fail('expected , or }');
    }
  }
  ws();
  if (i !== s.length) fail('unexpected text');
  if (matchers.length === 0) fail('empty selector');
  if (name === undefined) {
    const n = matchers.find((x) => x.name === '__name__' && x.op === '=');
    if (n) name = n.value;
  }
  return { name, matchers };
}

function readString(s: string, i: number, fail: (msg: string) => never): [string, number] {
  const q = s[i];
  if (q !== '"' && q !== "'" && q !== '`') fail('expected a quoted string');
  i++;
  let out = '';
  while (i < s.length) {
    const c = s[i] as string;
    if (c === q) return [out, i + 1];
    if (c === '\\' && q !== '`') {
      const e = s[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
          out += '\\';
          break;
        case '"':
          out += '"';
          break;
        case "'":
          out += "'";
          break;
        case 'u': {
          const hex = s.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          // Prometheus keeps unknown escapes for regexes (e.g. "\\." inside =~); keep both characters.
          out += `\\${e ?? ''}`;
      }
      continue;
    }
    out += c;
    i++;
  }
  return fail('unterminated string');
}

/** Does a label set (with `__name__`) satisfy every matcher? Absent labels read as "". */
export function matchesAll(labels: Readonly<Record<string, string>>, matchers: readonly Matcher[]): boolean {
  for (const m of matchers) {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        if (v !== m.value) return false;
        break;
      case '!=':
        if (v === m.value) return false;
        break;
      case '=~':
        if (!(m.re as RegExp).test(v)) return false;
        break;
      case '!~':
        if ((m.re as RegExp).test(v)) return false;
        break;
    }
  }
  return true;
}

/** Canonical text of a series identity: `name{a="1",b="2"}` with labels sorted (no __name__ inside). */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort();
  if (keys.length === 0) return name;
  let s = `${name}{`;
  for (let j = 0; j < keys.length; j++) {
    const k = keys[j] as string;
    if (j > 0) s += ',';
    s += `${k}=${JSON.stringify(labels[k])}`;
  }
  return `${s}}`;
}
