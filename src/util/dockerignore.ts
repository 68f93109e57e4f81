/**
 * .dockerignore patterns as Docker matches them (moby/patternmatcher): Go filepath.Match syntax
 * plus `**`, `!` exceptions, the last matching pattern wins, and a path is excluded when it or
 * one of its parent directories matches.
 */
export interface IgnorePattern {
  source: string;
  exception: boolean;
  regex: RegExp;
  /** Path components, to match parents of a path. */
  depth: number;
}

function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/** Go filepath.Match pattern (with `**`) to an anchored regular expression over slash paths. */
export function globToRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`bad pattern "${pattern}": unterminated [`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseIgnoreFile(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exception = false;
    if (line.startsWith('!')) {
      exception = true;
      line = line.slice(1).trim();
    }
    const clean = cleanPath(line);
    if (clean === '') continue;
    out.push({ source: raw.trim(), exception, regex: globToRegex(clean), depth: clean.split('/').length });
  }
  return out;
}

export class IgnoreMatcher {
  readonly hasExceptions: boolean;

  constructor(readonly patterns: readonly IgnorePattern[]) {
    this.hasExceptions = patterns.some((p) => p.exception);
  }

  /** Is this context-relative path (no leading slash) excluded? */
  excludes(rel: string): boolean {
    if (this.patterns.length === 0) return false;
    const parts = rel.split('/');
    let excluded = false;
    for (const p of this.patterns) {
      if (p.exception !== excluded) continue; // cannot change the verdict
      let match = p.regex.test(rel);
      if (!match) {
        // a parent directory matching the pattern excludes (or re-includes) everything below it
        for (let n = 1; n < parts.length && !match; n++) match = p.regex.test(parts.slice(0, n).join('/'));
      }
      if (match) excluded = !p.exception;
    }
    return excluded;
  }
}
