import { SelectorError, type Requirement } from './types.js';

/**
 * Kubernetes label and field selectors.
 *
 * Label grammar (as in k8s.io/apimachinery/pkg/labels):
 *   selector    := requirement ( ',' requirement )*
 *   requirement := '!' KEY | KEY | KEY ('=' | '==' | '!=') VALUE | KEY ('in' | 'notin') '(' VALUES ')'
 * Field grammar (k8s.io/apimachinery/pkg/fields): PATH ('=' | '==' | '!=') VALUE, comma separated,
 * with '\' escaping ',', '=' and '\' in values.
 */

export type Labels = Record<string, string> | undefined;

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const FIELD_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'prefix part must not be empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS_SUBDOMAIN.test(prefix)) return 'prefix part must be a lowercase DNS subdomain (e.g. example.com)';
  }
  if (name.length === 0) return 'name part must not be empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!LABEL_NAME.test(name)) {
    return "name part must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_NAME.test(value)) {
    return "must be empty or consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";
  }
  return undefined;
}

type TokenKind = 'ident' | 'in' | 'notin' | '(' | ')' | ',' | '=' | '==' | '!=' | '!' | '<' | '>' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const SPECIAL = new Set(['!', '=', '(', ')', ',', '<', '>']);

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === '==' || two === '!=') {
      tokens.push({ kind: two, text: two, pos: i });
      i += 2;
      continue;
    }
    if (SPECIAL.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, pos: i });
      i++;
      continue;
    }
    const start = i;
    while (i < input.length && !SPECIAL.has(input[i] as string) && !/\s/.test(input[i] as string)) i++;
    const text = input.slice(start, i);
    const kind: TokenKind = text === 'in' ? 'in' : text === 'notin' ? 'notin' : 'ident';
    tokens.push({ kind, text, pos: start });
  }
  tokens.push({ kind: 'end', text: 'end of input', pos: input.length });
  return tokens;
}

class LabelParser {
  private i = 0;
  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    if (this.peek().kind === 'end') return reqs;
    for (;;) {
      reqs.push(this.requirement());
      const t = this.next();
      if (t.kind === 'end') return reqs;
      if (t.kind !== ',') this.fail(t, `expected ',' or end of selector after a requirement, found ${show(t)}`);
      if (this.peek().kind === 'end') this.fail(this.peek(), "expected a requirement after ','");
    }
  }

  private requirement(): Requirement {
    const first = this.peek();
    if (first.kind === '!') {
      this.next();
      const key = this.key();
      const after = this.peek();
      if (after.kind !== ',' && after.kind !== 'end') {
        this.fail(after, `'!${key}' takes no operator or value, found ${show(after)}`);
      }
      return { key, operator: '!exists', values: [] };
    }
    const key = this.key();
    const op = this.peek();
    switch (op.kind) {
      case ',':
      case 'end':
        return { key, operator: 'exists', values: [] };
      case '=':
      case '==':
      case '!=': {
        this.next();
        const value = this.exactValue(key);
        return { key, operator: op.kind === '!=' ? '!=' : '=', values: [value] };
      }
      case 'in':
      case 'notin': {
        this.next();
        return { key, operator: op.kind, values: this.valueSet(key, op.kind) };
      }
      case '<':
      case '>':
        return this.fail(op, `operator '${op.text}' after key "${key}" is not supported (use =, ==, !=, in, notin)`);
      default:
        return this.fail(op, `expected an operator (=, ==, !=, in, notin) after key "${key}", found ${show(op)}`);
    }
  }

  private key(): string {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(t, `expected a label key, found ${show(t)}`);
    const problem = labelKeyProblem(t.text);
    if (problem) this.fail(t, `invalid label key "${t.text}": ${problem}`);
    return t.text;
  }

  private exactValue(key: string): string {
    const t = this.peek();
    if (t.kind === ',' || t.kind === 'end') return '';
    if (t.kind !== 'ident' && t.kind !== 'in' && t.kind !== 'notin') {
      this.fail(t, `expected a value for key "${key}", found ${show(t)}`);
    }
    this.next();
    this.checkValue(t, key);
    return t.text;
  }

  private valueSet(key: string, op: string): string[] {
    const open = this.next();
    if (open.kind !== '(') this.fail(open, `expected '(' after '${op}' for key "${key}", found ${show(open)}`);
    if (this.peek().kind === ')') this.fail(this.peek(), `the '${op}' list of key "${key}" must not be empty`);
    const values: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'ident' || t.kind === 'in' || t.kind === 'notin') {
        this.next();
        this.checkValue(t, key);
        values.push(t.text);
      } else if (t.kind === ',' || t.kind === ')') {
        values.push('');
      } else {
        this.fail(t, `expected a value or ')' in the '${op}' list of key "${key}", found ${show(t)}`);
      }
      const sep = this.next();
      if (sep.kind === ')') break;
      if (sep.kind !== ',') this.fail(sep, `expected ',' or ')' in the '${op}' list of key "${key}", found ${show(sep)}`);
    }
    return values;
  }

  private checkValue(t: Token, key: string): void {
    const problem = labelValueProblem(t.text);
    if (problem) this.fail(t, `invalid value "${t.text}" for key "${key}": ${problem}`);
  }

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    const t = this.tokens[this.i] as Token;
    if (t.kind !== 'end') this.i++;
    return t;
  }

  private fail(t: Token, why: string): never {
    throw new SelectorError(`invalid label selector "${this.input}": ${why} (at position ${t.pos})`);
  }
}

function show(t: Token): string {
  return t.kind === 'end' ? 'end of selector' : `"${t.text}"`;
}

/** Parses a label selector; '' (or only whitespace) selects everything. Throws SelectorError. */
export function parseLabelSelector(selector: string): Requirement[] {
  return new LabelParser(selector, lex(selector)).parse();
}

/** Parses a field selector into requirements with operator '=' or '!=' and one value. Throws SelectorError. */
export function parseFieldSelector(selector: string): Requirement[] {
  if (selector.trim() === '') return [];
  const reqs: Requirement[] = [];
  for (const term of splitUnescaped(selector, ',')) {
    const fail = (why: string): never => {
      throw new SelectorError(`invalid field selector "${selector}": ${why}`);
    };
    if (term.trim() === '') fail('empty requirement (check for a stray comma)');
    const op = findOperator(term);
    if (!op) fail(`"${term}" has no operator (use path=value, path==value or path!=value)`);
    const { index, text } = op as { index: number; text: string };
    const path = term.slice(0, index).trim();
    if (path === '') fail(`"${term}" has no field path before '${text}'`);
    if (!FIELD_PATH.test(path)) fail(`field path "${path}" must be dot-separated names such as metadata.name`);
    const raw = term.slice(index + text.length);
    let value: string;
    try {
      value = unescapeValue(raw);
    } catch (e) {
      return fail(`value "${raw}" of "${path}": ${(e as Error).message}`);
    }
    reqs.push({ key: path, operator: text === '!=' ? '!=' : '=', values: [value] });
  }
  return reqs;
}

function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] as string);
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function findOperator(term: string): { index: number; text: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '!' && term[i + 1] === '=') return { index: i, text: '!=' };
    if (c === '=') return { index: i, text: term[i + 1] === '=' ? '==' : '=' };
  }
  return undefined;
}

function unescapeValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = raw[i + 1];
    if (n === '\\' || n === ',' || n === '=') {
      out += n;
      i++;
    } else {
      throw new Error(`invalid escape sequence "\\${n ?? ''}" (only \\\\, \\, and \\= are allowed)`);
    }
  }
  return out;
}

/** Compiles parsed label requirements (with Kubernetes semantics for absent keys). */
export function matchLabelRequirements(reqs: Requirement[]): (labels: Labels) => boolean {
  if (reqs.length === 0) return () => true;
  return (labels) => {
    for (const r of reqs) {
      const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
      const v = has ? (labels as Record<string, string>)[r.key] : undefined;
      switch (r.operator) {
        case 'exists':
          if (!has) return false;
          break;
        case '!exists':
          if (has) return false;
          break;
        case '=':
        case 'in':
          if (!has || !r.values.includes(v as string)) return false;
          break;
        case '!=':
        case 'notin':
          if (has && r.values.includes(v as string)) return false;
          break;
      }
    }
    return true;
  };
}

/** The value a field selector compares against: absent fields read as ''. */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return '';
  if (typeof cur === 'string') return cur;
  if (typeof cur === 'number' || typeof cur === 'boolean') return String(cur);
  return JSON.stringify(cur);
}

export function matchFieldRequirements(reqs: Requirement[]): (obj: unknown) => boolean {
  if (reqs.length === 0) return () => true;
  return (obj) =>
    reqs.every((r) => {
      const equal = fieldValue(obj, r.key) === r.values[0];
      return r.operator === '!=' ? !equal : equal;
    });
}

/** `labelMatcher('app=web,tier in (a,b)')(labels)`; undefined or '' matches everything. */
export function labelMatcher(selector: string | undefined): (labels: Labels) => boolean {
  return matchLabelRequirements(parseLabelSelector(selector ?? ''));
}

/** `fieldMatcher('metadata.name=x,spec.nodeName!=n1')(obj)`; undefined or '' matches everything. */
export function fieldMatcher(selector: string | undefined): (obj: unknown) => boolean {
  return matchFieldRequirements(parseFieldSelector(selector ?? ''));
}
