import { buildError } from './errors.js';
import { splitRaw } from './words.js';

export const INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;
export type Keyword = (typeof INSTRUCTIONS)[number];

const HEREDOC_INSTRUCTIONS = new Set(['RUN', 'COPY', 'ADD']);

export interface Heredoc {
  /** The delimiter word (also the file name for COPY <<name). */
  name: string;
  content: string;
  /** False when the delimiter was quoted: no variable expansion in the content. */
  expand: boolean;
}

export interface Flag {
  name: string;
  /** undefined for a bare `--flag`. */
  value: string | undefined;
}

export interface Instruction {
  keyword: Keyword;
  /** First line of the instruction (1-based). */
  line: number;
  /** The instruction as written, continuations joined (for messages and history). */
  original: string;
  flags: Flag[];
  /** Everything after the keyword and flags, continuations joined. */
  args: string;
  /** Exec form: the JSON array, when args is one. */
  json?: string[];
  heredocs: Heredoc[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  syntax?: string;
  instructions: Instruction[];
  warnings: string[];
}

const DIRECTIVE_RE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const HEREDOC_WORD = /^\d*<<(-?)(["']?)([a-zA-Z][a-zA-Z0-9_]*)\2$/;

/** Exec form: a JSON array of strings, else undefined (the shell form, as Docker falls back). */
export function parseJsonArray(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return undefined;
}

/** Splits leading `--name[=value]` flags off an instruction's arguments. */
export function extractFlags(text: string): { flags: Flag[]; rest: string } {
  const flags: Flag[] = [];
  let rest = text.trimStart();
  while (rest.startsWith('--')) {
    let i = 2;
    let quote: string | undefined;
    while (i < rest.length) {
      const c = rest[i] as string;
      if (quote) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (/\s/.test(c)) break;
      i++;
    }
    const token = rest.slice(2, i);
    if (token === '') break; // a bare "--" is an argument
    const eq = token.indexOf('=');
    const name = eq < 0 ? token : token.slice(0, eq);
    let value = eq < 0 ? undefined : token.slice(eq + 1);
    if (value && value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    flags.push({ name: name.toLowerCase(), value });
    rest = rest.slice(i).trimStart();
  }
  return { flags, rest };
}

/** Heredoc markers on an instruction line, in order. */
export function heredocMarkers(args: string, escape = '\\'): Array<{ name: string; strip: boolean; expand: boolean }> {
  const out: Array<{ name: string; strip: boolean; expand: boolean }> = [];
  let words: string[];
  try {
    words = splitRaw(args, escape);
  } catch {
    return out;
  }
  for (const w of words) {
    const m = HEREDOC_WORD.exec(w);
    if (m) out.push({ name: m[3] as string, strip: m[1] === '-', expand: m[2] === '' });
  }
  return out;
}

/**
 * Parses a Dockerfile the way Docker does: parser directives (escape, syntax) at the top,
 * comments, line continuations with the escape character (comment and empty lines inside a
 * continuation are skipped), heredocs for RUN/COPY/ADD, and the exec (JSON) form.
 */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const warnings: string[] = [];
  let escape = '\\';
  let syntax: string | undefined;
  const seen = new Set<string>();
  let i = 0;
  // directives: only before anything else (a blank line, comment or instruction ends them)
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i] as string);
    if (!m) break;
    const name = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (!KNOWN_DIRECTIVES.has(name)) break; // unknown directives are comments, and end the directive block
    if (seen.has(name)) throw buildError(`only one ${name} parser directive can be used`, { file, line: i + 1 });
    seen.add(name);
    if (name === 'escape') {
      if (value !== '\\' && value !== '`') throw buildError(`invalid escape token '${value}' does not match ${'`'} or \\`, { file, line: i + 1 });
      escape = value;
    } else if (name === 'syntax') syntax = value;
  }
  const escRe = escape === '\\' ? '\\\\' : '`';
  const continuation = new RegExp(`${escRe}[ \\t]*$`);
  const instructions: Instruction[] = [];
  for (; i < lines.length; i++) {
    const first = (lines[i] as string).replace(/^[ \t]+/, '');
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let line = first;
    let done = !continuation.test(line);
    if (!done) line = line.replace(continuation, '');
    let emptyContinuation = false;
    while (!done && i + 1 < lines.length) {
      i++;
      const next = lines[i] as string;
      const trimmed = next.replace(/^[ \t]+/, '');
      if (trimmed.startsWith('#')) continue;
      if (trimmed.trim() === '') {
        emptyContinuation = true;
        continue;
      }
      if (continuation.test(next)) line += next.replace(continuation, '');
      else {
        line += next;
        done = true;
      }
    }
    if (emptyContinuation) warnings.push(`${file}:${start}: empty continuation line (deprecated; Docker will refuse it in a future release)`);
    const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(line);
    const word = (m?.[1] ?? '').toUpperCase();
    const rawArgs = (m?.[2] ?? '').trim();
    if (!(INSTRUCTIONS as readonly string[]).includes(word)) {
      throw buildError(`unknown instruction: ${m?.[1] ?? line}`, { file, line: start });
    }
    const keyword = word as Keyword;
    const { flags, rest } = extractFlags(rawArgs);
    const heredocs: Heredoc[] = [];
    if (HEREDOC_INSTRUCTIONS.has(keyword)) {
      for (const marker of heredocMarkers(rest, escape)) {
        const body: string[] = [];
        let closed = false;
        while (i + 1 < lines.length) {
          i++;
          const l = lines[i] as string;
          const cmp = marker.strip ? l.replace(/^\t+/, '') : l;
          if (cmp === marker.name) {
            closed = true;
            break;
          }
          body.push(cmp);
        }
        if (!closed) throw buildError(`${keyword}: unterminated heredoc <<${marker.name} (no line "${marker.name}" closes it)`, { file, line: start });
        heredocs.push({ name: marker.name, content: body.length ? `${body.join('\n')}\n` : '', expand: marker.expand });
      }
    }
    const json = parseJsonArray(rest);
    instructions.push({
      keyword,
      line: start,
      original: `${m?.[1] ?? word} ${rawArgs}`.trim(),
      flags,
      args: rest,
      ...(json ? { json } : {}),
      heredocs,
    });
  }
  return { file, escape, ...(syntax ? { syntax } : {}), instructions, warnings };
}
