/**
 * Renders one revision of a GitSync's path into the objects to apply: every YAML document of the
 * .yaml, .yml and .json files under the path, recursively, files in byte order of their paths and
 * documents in file order (or, when the path holds a kustomization.yaml, what `kustomize build` /
 * `kubectl kustomize` prints). Each object is checked for what the server cannot tell (a known
 * kind, a name, a wave) and stamped with the annotation that says which GitSync owns it. Errors name
 * the file, the document's index and the field; one error anywhere means nothing is applied.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { SyncError } from '../../api/gitsync.js';
import { apiVersionOf, type KObject, type ResourceType } from '../api-client.js';
import type { GitSource } from './source.js';

/** Annotation naming the GitSync (namespace/name) that applies an object. */
export const OWNER_ANNOTATION = 'berth.dev/gitsync';
export const WAVE_ANNOTATION = 'berth.dev/sync-wave';
export const PRUNE_ANNOTATION = 'berth.dev/prune';

/** Apply order of kinds within a wave; other kinds come after Containers. */
export const KIND_ORDER = ['Namespace', 'Secret', 'Volume', 'Network', 'Image', 'Container'];

export interface DesiredObject {
  /** group/Kind/namespace/name: one object, whatever the version. */
  key: string;
  type: ResourceType;
  object: KObject;
  file: string;
  document: number;
  wave: number;
  /** Hash of the object as rendered (what "changed" means between revisions). */
  hash: string;
}

export interface RenderResult {
  revision: string;
  objects: DesiredObject[];
  errors: SyncError[];
  /** Hash of every object, in order: equal hashes render equal objects. */
  hash: string;
  /** Set when kustomize was needed and is not installed. */
  kustomizeMissing?: boolean;
}

export interface RenderOptions {
  /** The GitSync: objects are stamped namespace/name. */
  owner: { namespace: string; name: string };
  /** Namespace of namespaced objects that name none. */
  defaultNamespace: string;
  /** The kinds the server serves. */
  types: readonly ResourceType[];
  /** kustomize or kubectl; found on PATH when omitted. */
  kustomize?: string[];
}

export const objectKey = (type: Pick<ResourceType, 'group' | 'kind'>, namespace: string | undefined, name: string): string =>
  `${type.group}/${type.kind}/${namespace ?? ''}/${name}`;

export function ownerId(o: { namespace: string; name: string }): string {
  return `${o.namespace}/${o.name}`;
}

/** JSON with sorted keys: equal objects, equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const MANIFEST = /\.(ya?ml|json)$/i;
const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SERVER_META = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink'];
const MAX_DOCS = 50_000;

/** Whether a file under the path is a manifest: YAML/JSON, and no part of its path hidden (.github/...). */
export function isManifestPath(path: string, base: string): boolean {
  const rel = base ? path.slice(base.length + 1) : path;
  return MANIFEST.test(rel) && !rel.split('/').some((p) => p.startsWith('.'));
}

/** What one file renders to: kept by blob id, so that a new commit parses only the files it changed. */
export interface FileRender {
  objects: DesiredObject[];
  errors: SyncError[];
  docs: number;
}

/** Renders `revision` of `url` at `path` (see the module comment). `cache` holds files by blob id and path across revisions. */
export async function renderRevision(source: GitSource, url: string, revision: string, path: string | undefined, o: RenderOptions, cache?: Map<string, FileRender>): Promise<RenderResult> {
  const base = (path ?? '').replace(/\/+$/, '');
  const files = await source.listFiles(url, revision, base);
  const inBase = files.filter((f) => !base || f.path.startsWith(`${base}/`));
  const kustomization = inBase.find((f) => KUSTOMIZATION.some((k) => f.path === (base ? `${base}/${k}` : k)));
  if (kustomization) {
    const built = await kustomizeBuild(source, url, revision, base, o.kustomize);
    if ('missing' in built) {
      return { revision, objects: [], errors: [{ file: kustomization.path, message: built.missing }], hash: '', kustomizeMissing: true };
    }
    if ('error' in built) return { revision, objects: [], errors: [{ file: kustomization.path, message: built.error }], hash: '' };
    return toObjects(revision, [{ path: kustomization.path, text: built.yaml }], o);
  }
  const manifests = inBase.filter((f) => isManifestPath(f.path, base));
  const key = (f: { oid: string; path: string }) => `${f.oid}|${f.path}`;
  const missing = manifests.filter((f) => !cache?.has(key(f)));
  const contents = await source.readFiles(url, missing);
  const rendered = manifests.map((f) => {
    const hit = cache?.get(key(f));
    if (hit) return { path: f.path, r: hit };
    const r = renderFile(f.path, (contents.get(f.path) ?? Buffer.alloc(0)).toString('utf8'), o);
    cache?.set(key(f), r);
    return { path: f.path, r };
  });
  if (cache && cache.size > manifests.length * 2 + 1000) for (const k of [...cache.keys()].slice(0, cache.size - manifests.length)) cache.delete(k);
  return merge(revision, rendered);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks the documents of `files` (in the order given). */
export function toObjects(revision: string, files: { path: string; text: string }[], o: RenderOptions): RenderResult {
  return merge(revision, files.map((f) => ({ path: f.path, r: renderFile(f.path, f.text, o) })));
}

/** The documents of one file, checked one by one. */
export function renderFile(path: string, text: string, o: RenderOptions): FileRender {
  const objects: DesiredObject[] = [];
  const errors: SyncError[] = [];
  const parsed = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((doc, index) => {
    if (index >= MAX_DOCS) return;
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      errors.push({ file: path, document: index, message: `invalid YAML${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ file: path, document: index, message: `invalid YAML: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return;
    const items = isObj(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items) ? value.items : [value];
    for (const item of items) {
      const d = checkDocument(item, path, index, o, errors);
      if (d) objects.push(d);
    }
  });
  return { objects, errors, docs: list.length };
}

/** The files' objects in order, with duplicates across files reported. */
function merge(revision: string, files: { path: string; r: FileRender }[]): RenderResult {
  const objects: DesiredObject[] = [];
  const errors: SyncError[] = [];
  const seen = new Map<string, { file: string; document: number }>();
  let docs = 0;
  for (const { path, r } of files) {
    docs += r.docs;
    if (docs > MAX_DOCS) {
      errors.push({ file: path, message: `more than ${MAX_DOCS} documents under the path` });
      break;
    }
    errors.push(...r.errors);
    for (const d of r.objects) {
      const prior = seen.get(d.key);
      if (prior) {
        errors.push({ file: d.file, document: d.document, object: describeKey(d), field: 'metadata.name', message: `${describeKey(d)} is also defined in ${prior.file} (document ${prior.document})` });
        continue;
      }
      seen.set(d.key, { file: d.file, document: d.document });
      objects.push(d);
    }
  }
  return { revision, objects, errors, hash: errors.length ? '' : sha256(objects.map((x) => `${x.key}=${x.hash}`).join('\n')) };
}

export function describeKey(d: { type: Pick<ResourceType, 'kind'>; object: KObject }): string {
  const ns = d.object.metadata.namespace;
  return `${d.type.kind} ${ns ? `${ns}/` : ''}${d.object.metadata.name}`;
}

function checkDocument(value: unknown, file: string, document: number, o: RenderOptions, errors: SyncError[]): DesiredObject | undefined {
  const fail = (field: string | undefined, message: string, object?: string) => {
    errors.push({ file, document, ...(object ? { object } : {}), ...(field ? { field } : {}), message });
    return undefined;
  };
  if (!isObj(value)) return fail(undefined, 'a manifest must be a YAML mapping (an object)');
  if (typeof value.apiVersion !== 'string' || !value.apiVersion) return fail('apiVersion', 'Required value: apiVersion');
  if (typeof value.kind !== 'string' || !value.kind) return fail('kind', 'Required value: kind');
  const type = o.types.find((t) => apiVersionOf(t) === value.apiVersion && t.kind === value.kind);
  if (!type) {
    const sameKind = o.types.find((t) => t.kind === value.kind);
    return fail('kind', sameKind ? `kind ${value.kind} is served as ${apiVersionOf(sameKind)}, not ${value.apiVersion}` : `unknown kind ${value.kind} of ${value.apiVersion}: the server does not serve it`);
  }
  if (!isObj(value.metadata)) return fail('metadata', 'Required value: metadata');
  const meta = { ...value.metadata } as Record<string, unknown>;
  if (typeof meta.name !== 'string' || !meta.name) return fail('metadata.name', 'Required value: metadata.name (generateName is not supported: a GitSync must know what it applied)');
  for (const k of SERVER_META) delete meta[k];
  if (type.namespaced) {
    if (meta.namespace === undefined || meta.namespace === '') meta.namespace = o.defaultNamespace;
    if (typeof meta.namespace !== 'string') return fail('metadata.namespace', 'must be a string');
  } else delete meta.namespace;
  if (meta.annotations !== undefined && !isObj(meta.annotations)) return fail('metadata.annotations', 'must be a mapping of strings');
  const annotations = { ...((meta.annotations as Record<string, unknown> | undefined) ?? {}) };
  const object = `${type.kind} ${type.namespaced ? `${String(meta.namespace)}/` : ''}${meta.name}`;
  let wave = 0;
  if (annotations[WAVE_ANNOTATION] !== undefined) {
    const w = String(annotations[WAVE_ANNOTATION]);
    if (!/^-?\d{1,4}$/.test(w)) return fail(`metadata.annotations["${WAVE_ANNOTATION}"]`, `must be an integer from -9999 to 9999, got "${w}"`, object);
    wave = Number(w);
  }
  annotations[OWNER_ANNOTATION] = ownerId(o.owner);
  meta.annotations = annotations;
  const obj: KObject = { ...value, apiVersion: value.apiVersion, kind: value.kind, metadata: meta as KObject['metadata'] };
  delete obj.status;
  if (type.group === '' && type.kind === 'Secret' && obj.stringData !== undefined) {
    // stringData is write-only (the server folds it into data): applied as data, so that the fields
    // this GitSync owns are the ones the cluster shows, and a hand edit of them is seen
    if (!isObj(obj.stringData) || !Object.values(obj.stringData).every((x) => typeof x === 'string')) return fail('stringData', 'must be a mapping of strings', object);
    const data = isObj(obj.data) ? { ...obj.data } : {};
    for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(v as string, 'utf8').toString('base64');
    obj.data = data;
    delete obj.stringData;
  }
  return {
    key: objectKey(type, type.namespaced ? (meta.namespace as string) : undefined, meta.name),
    type,
    object: obj,
    file,
    document,
    wave,
    hash: sha256(canonicalJson(obj)),
  };
}

/** The kustomize command line: `kustomize build` when installed, else `kubectl kustomize`, else undefined. */
export function findKustomize(): string[] | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const has = (bin: string) => dirs.some((d) => existsSyncSafe(join(d, bin)));
  if (has('kustomize')) return ['kustomize', 'build'];
  if (has('kubectl')) return ['kubectl', 'kustomize'];
  return undefined;
}

function existsSyncSafe(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs kustomize on the path of a materialized copy of the revision; remote bases are refused (no network). */
async function kustomizeBuild(source: GitSource, url: string, revision: string, base: string, cmd: string[] | undefined): Promise<{ yaml: string } | { error: string } | { missing: string }> {
  const argv = cmd ?? findKustomize();
  if (!argv) return { missing: 'the path holds a kustomization.yaml but neither kustomize nor kubectl is installed on the controller\'s machine' };
  const dir = await mkdtemp(join(tmpdir(), 'berth-kustomize-'));
  try {
    await source.materialize(url, revision, dir);
    const target = base ? join(dir, base) : dir;
    return await new Promise((resolvePromise) => {
      const child = spawn(argv[0]!, [...argv.slice(1), '--load-restrictor', 'LoadRestrictionsRootOnly', '--', target], {
        cwd: dir,
        // no credentials and no way out: remote bases fail instead of reaching the network
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '', GIT_ALLOW_PROTOCOL: 'none', GIT_TERMINAL_PROMPT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let size = 0;
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.stdout.on('data', (d: Buffer) => {
        size += d.length;
        if (size > 64 << 20) child.kill('SIGKILL');
        else out.push(d);
      });
      child.stderr.on('data', (d: Buffer) => {
        if (err.length < 16_384) err += d.toString();
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        resolvePromise({ missing: `cannot run ${argv[0]}: ${e.message}` });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolvePromise({ yaml: Buffer.concat(out).toString('utf8') });
        else resolvePromise({ error: `kustomize failed: ${err.trim().split('\n').slice(-3).join('; ').replaceAll(dir, '') || `exit ${code}`}` });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
