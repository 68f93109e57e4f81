/**
 * The client side never opens a node's runtime: nothing under src/cli or src/client imports
 * src/runtime (the node's agent is the only writer of its runtime root; the CLI's image verbs go
 * through the API server). The process commands `server` and `agent`, which compose a node, are
 * the exception until they move to src/cmd.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const COMPOSITION = new Set(['src/cli/commands/server.ts', 'src/cli/commands/agent.ts']);

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('the CLI and the client library', () => {
  it('import nothing of src/runtime, statically or dynamically', async () => {
    const offenders: string[] = [];
    for (const file of [...(await sources(join(ROOT, 'src/cli'))), ...(await sources(join(ROOT, 'src/client')))]) {
      const rel = relative(ROOT, file);
      if (COMPOSITION.has(rel)) continue;
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
        if (/(^|\/)runtime\//.test(m[1]!)) offenders.push(`${rel}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
