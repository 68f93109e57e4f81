import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CliError } from './errors.js';

export interface ManifestSource {
  /** File path, or '<stdin>'. */
  name: string;
  text: string;
}

/** One object from a manifest, or the reason a document could not become one. */
export interface ManifestDoc {
  source: string;
  /** 1-based position of the YAML document in its source. */
  index: number;
  /** 1-based line where the document starts. */
  line: number;
  /** Position inside a `kind: List` document, 1-based. */
  item?: number;
  object?: Record<string, unknown>;
  error?: string;
}

export function describeDoc(d: Pick<ManifestDoc, 'source' | 'index' | 'item'>): string {
  return `${d.source} (document ${d.index}${d.item !== undefined ? `, item ${d.item}` : ''})`;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x);
}

/** What makes a manifest object unusable for apply/delete; undefined when it is fine. */
export function objectProblem(obj: unknown): string | undefined {
  if (!isRecord(obj)) return 'the document is not a mapping (expected an object with apiVersion, kind and metadata)';
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') return 'apiVersion: Required value: the object has no apiVersion';
  if (typeof obj.kind !== 'string' || obj.kind === '') return 'kind: Required value: the object has no kind';
  if (!isRecord(obj.metadata)) return 'metadata: Required value: the object has no metadata';
  if (typeof obj.metadata.name !== 'string' || obj.metadata.name === '') return 'metadata.name: Required value: the object has no name';
  if (obj.metadata.namespace !== undefined && typeof obj.metadata.namespace !== 'string') return 'metadata.namespace: Invalid value: must be a string';
  return undefined;
}

/** Splits multi-document YAML (or JSON) into objects; `kind: List` documents yield their items. Empty documents are skipped. */
export function parseManifests(source: ManifestSource): ManifestDoc[] {
  if (extname(source.name).toLowerCase() === '.json') return parseJsonManifest(source);
  const out: ManifestDoc[] = [];
  const docs = parseAllDocuments(source.text, { prettyErrors: true });
  // A stream with nothing at all parses as an empty array; with only garbage it may be one EmptyStream.
  if (!Array.isArray(docs)) return out;
  docs.forEach((doc, i) => {
    const base = { source: source.name, index: i + 1, line: lineAt(source.text, doc.range[0]) };
    const first = doc.errors[0];
    if (first) {
      const where = first.linePos?.[0];
      const message = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
      const at = where ? `line ${where.line}, column ${where.col}` : `line ${base.line}`;
      out.push({ ...base, error: `invalid YAML at ${at}: ${message}` });
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(...docsOf(value, base));
  });
  return out;
}

function docsOf(value: unknown, base: Pick<ManifestDoc, 'source' | 'index' | 'line'>): ManifestDoc[] {
  if (isRecord(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    return value.items.map((item: unknown, j: number) => {
      const problem = objectProblem(item);
      return { ...base, item: j + 1, ...(problem ? { error: problem } : { object: item as Record<string, unknown> }) };
    });
  }
  const problem = objectProblem(value);
  return [{ ...base, ...(problem ? { error: problem } : { object: value as Record<string, unknown> }) }];
}

/** JSON files are read as JSON (YAML would reject tab indentation, which JSON allows). */
function parseJsonManifest(source: ManifestSource): ManifestDoc[] {
  const base = { source: source.name, index: 1, line: 1 };
  if (source.text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(source.text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(message);
    const at = pos ? ` at line ${lineAt(source.text, Number(pos[1]))}` : '';
    return [{ ...base, error: `invalid JSON${at}: ${message}` }];
  }
  return docsOf(value, base);
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function filesIn(dir: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await filesIn(path, true)));
    } else if (MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) {
      out.push(path);
    }
  }
  return out;
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads -f arguments: files, directories (*.yaml, *.yml, *.json; subdirectories with recursive) and '-' for stdin. */
export async function readManifestSources(
  paths: readonly string[],
  opts: { recursive: boolean; stdin?: NodeJS.ReadableStream },
): Promise<ManifestSource[]> {
  const out: ManifestSource[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ name: '<stdin>', text: await readStdin(opts.stdin ?? process.stdin) });
      continue;
    }
    let info;
    try {
      info = await stat(p);
    } catch {
      throw new CliError(`the path "${p}" does not exist`);
    }
    const files = info.isDirectory() ? await filesIn(p, opts.recursive) : [p];
    if (info.isDirectory() && files.length === 0) throw new CliError(`no manifests (*.yaml, *.yml, *.json) in directory "${p}"`);
    for (const f of files) {
      try {
        out.push({ name: f, text: await readFile(f, 'utf8') });
      } catch (err) {
        throw new CliError(`cannot read "${f}": ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  return out;
}
