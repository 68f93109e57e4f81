import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeDoc, objectProblem, parseManifests, readManifestSources } from '../../../src/cli/manifests.js';

const ctr = (name: string) => `apiVersion: berth.dev/v1alpha1\nkind: Container\nmetadata:\n  name: ${name}\nspec:\n  image: busybox\n`;

describe('parseManifests', () => {
  it('splits multi-document YAML, skipping empty documents, and keeps document numbers and lines', () => {
    const text = `${ctr('a')}---\n---\n# only a comment\n---\n${ctr('b')}`;
    const docs = parseManifests({ name: 'm.yaml', text });
    expect(docs.map((d) => [(d.object?.metadata as { name: string }).name, d.index, d.line])).toEqual([
      ['a', 1, 1],
      ['b', 4, 10],
    ]);
  });

  it('names the line and column of a YAML syntax error and still yields the other documents', () => {
    const text = `${ctr('a')}---\nkind: Container\nmetadata: {name: b\n---\n${ctr('c')}`;
    const docs = parseManifests({ name: 'bad.yaml', text });
    expect(docs).toHaveLength(3);
    expect(docs[0]?.object).toBeDefined();
    expect(docs[1]?.error).toMatch(/^invalid YAML at line \d+, column \d+: /);
    // A line of the file (the broken document starts at line 7), not of the document.
    expect(docs[1]?.error).toContain('line 10, column 1');
    expect(describeDoc(docs[1]!)).toBe('bad.yaml (document 2)');
    expect((docs[2]?.object?.metadata as { name: string }).name).toBe('c');
  });

  it('reports duplicate keys as errors', () => {
    const docs = parseManifests({ name: 'dup.yaml', text: 'apiVersion: v1\napiVersion: v2\n' });
    expect(docs[0]?.error).toMatch(/invalid YAML at line 2/);
  });

  it('expands kind: List documents into their items', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n- ${ctr('x').trimEnd().replace(/\n/g, '\n  ')}\n- {kind: Volume}\n`;
    const docs = parseManifests({ name: 'list.yaml', text });
    expect(docs).toHaveLength(2);
    expect(docs[0]).toMatchObject({ index: 1, item: 1, object: { kind: 'Container' } });
    expect(docs[1]).toMatchObject({ index: 1, item: 2, error: 'apiVersion: Required value: the object has no apiVersion' });
    expect(describeDoc(docs[1]!)).toBe('list.yaml (document 1, item 2)');
  });

  it('explains documents that are not objects or miss required fields', () => {
    const docs = parseManifests({ name: 'x.yaml', text: '- 1\n---\napiVersion: v1\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {}\n' });
    expect(docs.map((d) => d.error)).toEqual([
      'the document is not a mapping (expected an object with apiVersion, kind and metadata)',
      'kind: Required value: the object has no kind',
      'metadata.name: Required value: the object has no name',
    ]);
  });

  it('reads .json files as JSON, tabs and all', () => {
    const docs = parseManifests({ name: 'ns.json', text: '{\n\t"apiVersion": "v1",\n\t"kind": "Namespace",\n\t"metadata": {"name": "team"}\n}\n' });
    expect(docs[0]?.object).toMatchObject({ kind: 'Namespace', metadata: { name: 'team' } });
    const bad = parseManifests({ name: 'bad.json', text: '{\n"kind": }' });
    expect(bad[0]?.error).toMatch(/^invalid JSON/);
  });

  it('objectProblem accepts a complete object', () => {
    expect(objectProblem({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } })).toBeUndefined();
    expect(objectProblem({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', namespace: 3 } })).toMatch(/metadata.namespace/);
  });
});

describe('readManifestSources', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-manifests-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'b.yaml'), ctr('b'));
    await writeFile(join(dir, 'a.yml'), ctr('a'));
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    await writeFile(join(dir, 'sub', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads manifests of a directory in name order, subdirectories only with recursive', async () => {
    const flat = await readManifestSources([dir], { recursive: false });
    expect(flat.map((s) => s.name)).toEqual([join(dir, 'a.yml'), join(dir, 'b.yaml')]);
    const deep = await readManifestSources([dir], { recursive: true });
    expect(deep.map((s) => s.name)).toEqual([join(dir, 'a.yml'), join(dir, 'b.yaml'), join(dir, 'sub', 'c.json')]);
  });

  it('reads - from stdin', async () => {
    const sources = await readManifestSources(['-'], { recursive: false, stdin: Readable.from([Buffer.from(ctr('s'))]) });
    expect(sources).toEqual([{ name: '<stdin>', text: ctr('s') }]);
  });

  it('names a path that does not exist and a directory without manifests', async () => {
    await expect(readManifestSources([join(dir, 'nope.yaml')], { recursive: false })).rejects.toThrow(/the path ".*nope.yaml" does not exist/);
    await mkdir(join(dir, 'empty'));
    await expect(readManifestSources([join(dir, 'empty')], { recursive: false })).rejects.toThrow(/no manifests/);
  });
});
