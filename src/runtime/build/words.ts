/**
 * Docker's Dockerfile word processing (moby/buildkit frontend/dockerfile/shell): quotes,
 * the escape character and variable substitution ($VAR, ${VAR}, ${VAR:-word}, ${VAR-word},
 * ${VAR:+word}, ${VAR+word}, ${VAR:?msg}, ${VAR?msg}). Quotes are removed from the result.
 */

export type VarLookup = ReadonlyMap<string, string>;

export class WordError extends Error {}

interface LexOptions {
  escape: string;
  /** Split on unquoted whitespace (ProcessWords); otherwise the whole text is one word. */
  split: boolean;
  /** Record the names of variables that were looked up. */
  used?: Set<string>;
}

const isNameChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

class Lexer {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly env: VarLookup,
    private readonly o: LexOptions,
  ) {}

  private peek(offset = 0): string {
    return this.text[this.pos + offset] ?? '';
  }

  private get eof(): boolean {
    return this.pos >= this.text.length;
  }

  words(): string[] {
    const out: string[] = [];
    let cur = '';
    let started = false;
    while (!this.eof) {
      const c = this.peek();
      if (this.o.split && /\s/.test(c)) {
        if (started) out.push(cur);
        cur = '';
        started = false;
        this.pos++;
        continue;
      }
      const part = this.unit(undefined);
      if (this.o.split && part.expanded && /\s/.test(part.text)) {
        // field splitting of an unquoted expansion
        const fields = part.text.split(/\s+/);
        fields.forEach((f, n) => {
          if (n > 0) {
            if (started) out.push(cur);
            cur = '';
            started = false;
          }
          if (f !== '') {
            cur += f;
            started = true;
          }
        });
        continue;
      }
      if (part.quoted || part.text !== '') started = true;
      cur += part.text;
    }
    if (started || (!this.o.split && out.length === 0)) out.push(cur);
    return out;
  }

  /** One lexical unit: a quoted string, an escape, a substitution or a plain character. `stop` ends a ${...} word. */
  private unit(stop: string | undefined): { text: string; quoted: boolean; expanded?: boolean } {
    const c = this.peek();
    if (c === "'") return { text: this.singleQuoted(), quoted: true };
    if (c === '"') return { text: this.doubleQuoted(), quoted: true };
    if (c === this.o.escape) {
      this.pos++;
      if (this.eof) return { text: this.o.escape, quoted: false };
      const next = this.peek();
      this.pos++;
      return { text: next, quoted: true };
    }
    if (c === '$') return { text: this.dollar(), quoted: false, expanded: true };
    if (stop !== undefined && c === stop) return { text: '', quoted: false };
    this.pos++;
    return { text: c, quoted: false };
  }

  private singleQuoted(): string {
    this.pos++;
    let out = '';
    while (!this.eof && this.peek() !== "'") out += this.text[this.pos++];
    if (this.eof) throw new WordError('unexpected end of statement while looking for matching single-quote');
    this.pos++;
    return out;
  }

  private doubleQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      if (this.eof) throw new WordError('unexpected end of statement while looking for matching double-quote');
      const c = this.peek();
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      if (c === this.o.escape) {
        const next = this.peek(1);
        if (next === '"' || next === '$' || next === this.o.escape) {
          out += next;
          this.pos += 2;
          continue;
        }
      }
      out += c;
      this.pos++;
    }
  }

  private lookup(name: string): string | undefined {
    this.o.used?.add(name);
    return this.env.get(name);
  }

  private dollar(): string {
    this.pos++; // $
    const c = this.peek();
    if (c === '{') return this.braced();
    let name = '';
    while (!this.eof && isNameChar(this.peek())) name += this.text[this.pos++];
    if (name === '') return '$';
    return this.lookup(name) ?? '';
  }

  private braced(): string {
    this.pos++; // {
    let name = '';
    while (!this.eof && isNameChar(this.peek())) name += this.text[this.pos++];
    if (this.eof) throw new WordError("missing '}' in substitution");
    if (name === '') throw new WordError(`bad substitution: \${${this.peek()}...}`);
    let op = this.peek();
    if (op === '}') {
      this.pos++;
      return this.lookup(name) ?? '';
    }
    this.pos++;
    let colon = false;
    if (op === ':') {
      colon = true;
      op = this.peek();
      this.pos++;
    }
    if (!['-', '+', '?'].includes(op)) {
      throw new WordError(`unsupported modifier (${colon ? ':' : ''}${op}) in substitution \${${name}${colon ? ':' : ''}${op}...}`);
    }
    const word = this.wordUntilBrace();
    const value = this.lookup(name);
    const set = value !== undefined && (!colon || value !== '');
    switch (op) {
      case '-':
        return set ? (value as string) : word;
      case '+':
        return set ? word : '';
      default:
        if (!set) throw new WordError(`${name}: ${word || (colon ? 'is not set or empty' : 'is not set')}`);
        return value as string;
    }
  }

  /** The word of ${NAME:-word}, itself expanded, up to the closing brace. */
  private wordUntilBrace(): string {
    let out = '';
    for (;;) {
      if (this.eof) throw new WordError("missing '}' in substitution");
      if (this.peek() === '}') {
        this.pos++;
        return out;
      }
      out += this.unit('}').text;
    }
  }
}

/** Expands one word (quotes removed, variables substituted). */
export function expandWord(text: string, env: VarLookup, escape = '\\', used?: Set<string>): string {
  return new Lexer(text, env, { escape, split: false, used }).words()[0] ?? '';
}

/** Expands and splits on unquoted whitespace (quotes keep spaces inside one word). */
export function expandWords(text: string, env: VarLookup, escape = '\\', used?: Set<string>): string[] {
  return new Lexer(text, env, { escape, split: true, used }).words();
}

/**
 * Splits on unquoted whitespace without expanding or removing quotes (Docker's parser step
 * before substitution), so `a="b c" d` is ['a="b c"', 'd'].
 */
export function splitRaw(text: string, escape = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      cur += c;
      if (c === escape && quote === '"' && i + 1 < text.length) cur += text[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (/\s/.test(c)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
      continue;
    }
    started = true;
    cur += c;
    if (c === escape && i + 1 < text.length) cur += text[++i];
    else if (c === '"' || c === "'") quote = c;
  }
  if (quote) throw new WordError(`unmatched ${quote === '"' ? 'double' : 'single'} quote`);
  if (started) out.push(cur);
  return out;
}
