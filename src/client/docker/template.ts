/**
 * The part of Go's text/template that `docker inspect -f`, `docker ps --format` and friends use:
 * field paths (`{{.State.Status}}`, `{{.Config.Labels.app}}`), functions json, index, join, split,
 * upper, lower, title, len, println, printf (%s %d %v %q), pipes (`{{.Name | upper}}`), `if`/`else`,
 * `range` (with `.` the element) and `with`, `{{-`/`-}}` trimming, and `table` (a header row,
 * columns split at tabs). No maintained npm library covers this subset (@ctrl/golang-template does
 * field paths only). An unknown function or a malformed template is an error naming it, as docker's.
 */
export class TemplateError extends Error {}

type Node =
  | { t: 'text'; v: string }
  | { t: 'expr'; pipe: string }
  | { t: 'if' | 'with'; pipe: string; then: Node[]; else: Node[] }
  | { t: 'range'; pipe: string; body: Node[]; else: Node[] };

function tokenize(src: string): Array<{ text?: string; action?: string }> {
  const out: Array<{ text?: string; action?: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let close = src.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`template: unclosed action at ${open}`);
    let action = src.slice(open + 2, close);
    if (action.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      action = action.slice(1);
    }
    let next = close + 2;
    if (action.endsWith('-')) {
      action = action.slice(0, -1);
      const rest = src.slice(next);
      next += rest.length - rest.replace(/^\s+/, '').length;
    }
    if (text) out.push({ text });
    out.push({ action: action.trim() });
    i = next;
    close = 0;
  }
  return out;
}

function parse(tokens: Array<{ text?: string; action?: string }>): Node[] {
  let pos = 0;
  const block = (stop: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tk = tokens[pos++]!;
      if (tk.text !== undefined) {
        nodes.push({ t: 'text', v: tk.text });
        continue;
      }
      const a = tk.action!;
      const word = a.split(/\s+/)[0]!;
      if (stop.includes(word)) return { nodes, end: word };
      if (word === 'if' || word === 'with' || word === 'range') {
        const pipe = a.slice(word.length).trim();
        const body = block(['else', 'end']);
        const alt = body.end === 'else' ? block(['end']).nodes : [];
        nodes.push(word === 'range' ? { t: 'range', pipe, body: body.nodes, else: alt } : { t: word, pipe, then: body.nodes, else: alt });
        continue;
      }
      if (word === 'end' || word === 'else') throw new TemplateError(`template: unexpected {{${word}}}`);
      if (a.startsWith('/*')) continue;
      nodes.push({ t: 'expr', pipe: a });
    }
    if (stop.length) throw new TemplateError(`template: unexpected EOF (missing {{end}})`);
    return { nodes, end: '' };
  };
  return block([]).nodes;
}

/** Splits a command into words, keeping "quoted strings" and (parenthesised) groups whole. */
function words(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (/\s/.test(s[i]!)) {
      i++;
      continue;
    }
    if (s[i] === '"' || s[i] === '`') {
      const q = s[i]!;
      let j = i + 1;
      while (j < s.length && s[j] !== q) j += s[j] === '\\' ? 2 : 1;
      out.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (s[i] === '(') {
      let depth = 0;
      let j = i;
      for (; j < s.length; j++) {
        if (s[j] === '(') depth++;
        if (s[j] === ')' && --depth === 0) break;
      }
      out.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < s.length && !/\s/.test(s[j]!)) j++;
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

const goString = (v: unknown): string => {
  if (v === undefined || v === null) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  return `map[${Object.keys(v as object)
    .sort()
    .map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`)
    .join(' ')}]`;
};

function printf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([svdqt%])/g, (_m, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const v = args[n++];
    if (verb === 'q') return JSON.stringify(goString(v));
    if (verb === 'd') return String(Math.trunc(Number(v)));
    return goString(v);
  });
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v ?? null),
  index: (v, ...keys) => keys.reduce<unknown>((acc, k) => (acc === null || acc === undefined ? undefined : (acc as Record<string, unknown>)[String(k)]), v),
  join: (v, sep) => (Array.isArray(v) ? v.map(goString).join(String(sep)) : goString(v)),
  split: (v, sep) => String(v).split(String(sep)),
  upper: (v) => goString(v).toUpperCase(),
  lower: (v) => goString(v).toLowerCase(),
  title: (v) => goString(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  println: (...a) => `${a.map(goString).join(' ')}\n`,
  print: (...a) => a.map(goString).join(''),
  printf: (f, ...a) => printf(String(f), a),
  truncate: (v, n) => goString(v).slice(0, Number(n)),
  pad: (v, l, r) => `${' '.repeat(Number(l))}${goString(v)}${' '.repeat(Number(r))}`,
};

function evalArg(arg: string, dot: unknown, root: unknown): unknown {
  if (arg.startsWith('"')) return JSON.parse(arg) as string;
  if (arg.startsWith('`')) return arg.slice(1, -1);
  if (/^-?\d+(\.\d+)?$/.test(arg)) return Number(arg);
  if (arg === 'true' || arg === 'false') return arg === 'true';
  if (arg.startsWith('(')) return evalPipe(arg.slice(1, -1), dot, root);
  if (arg === '.') return dot;
  if (arg === '$') return root;
  const fromRoot = arg.startsWith('$.');
  if (fromRoot || arg.startsWith('.')) {
    let v: unknown = fromRoot ? root : dot;
    for (const key of arg.slice(fromRoot ? 2 : 1).split('.').filter(Boolean)) {
      if (v === null || v === undefined || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[key];
    }
    return v;
  }
  if (Object.hasOwn(FUNCS, arg)) return FUNCS[arg]!();
  throw new TemplateError(`template: function "${arg}" not defined`);
}

function evalCommand(cmd: string, dot: unknown, root: unknown, piped: unknown[]): unknown {
  const w = words(cmd);
  if (w.length === 0) throw new TemplateError('template: missing value for command');
  const head = w[0]!;
  if (!head.startsWith('.') && !head.startsWith('"') && !head.startsWith('$') && !head.startsWith('(') && !/^-?\d/.test(head)) {
    const fn = Object.hasOwn(FUNCS, head) ? FUNCS[head] : undefined;
    if (!fn) throw new TemplateError(`template: function "${head}" not defined`);
    return fn(...w.slice(1).map((a) => evalArg(a, dot, root)), ...piped);
  }
  if (w.length > 1 || piped.length) throw new TemplateError(`template: can't give argument to non-function ${head}`);
  return evalArg(head, dot, root);
}

function evalPipe(pipe: string, dot: unknown, root: unknown): unknown {
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of pipe) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  let value: unknown;
  parts.forEach((p, i) => {
    value = evalCommand(p.trim(), dot, root, i === 0 ? [] : [value]);
  });
  return value;
}

const truthy = (v: unknown): boolean => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

function run(nodes: Node[], dot: unknown, root: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.v;
    else if (n.t === 'expr') out += goString(evalPipe(n.pipe, dot, root));
    else if (n.t === 'if') out += truthy(evalPipe(n.pipe, dot, root)) ? run(n.then, dot, root) : run(n.else, dot, root);
    else if (n.t === 'with') {
      const v = evalPipe(n.pipe, dot, root);
      out += truthy(v) ? run(n.then, v, root) : run(n.else, dot, root);
    } else if (n.t === 'range') {
      const v = evalPipe(n.pipe, dot, root);
      const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
      out += items.length ? items.map((item) => run(n.body, item, root)).join('') : run(n.else, dot, root);
    }
  }
  return out;
}

/** A compiled template: `render(value)` gives its text. */
export function compileTemplate(src: string): (value: unknown) => string {
  const nodes = parse(tokenize(src.replace(/\\t/g, '\t').replace(/\\n/g, '\n')));
  return (value) => run(nodes, value, value);
}

/**
 * docker's --format for lists: `table ...` prints a header (the field names, upper-cased and split into
 * words, unless `headers` names them) and aligned columns; anything else is one rendering per item.
 */
export function formatList(format: string, items: unknown[], headers: Record<string, string> = {}): string {
  const isTable = /^table\b/.test(format);
  const body = isTable ? format.replace(/^table\s*/, '') : format;
  const render = compileTemplate(body);
  if (!isTable) return items.map((i) => `${render(i)}\n`).join('');
  const header = body.replace(/\{\{\s*\.([\w.]+)\s*\}\}/g, (_m, path: string) => {
    const f = path.split('.').pop()!;
    return headers[path] ?? headers[f] ?? f.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  });
  const rows = [header, ...items.map((i) => render(i))].map((r) => r.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}
