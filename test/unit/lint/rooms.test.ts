/**
 * The import-boundary rule of the lint step (eslint.config.js, README "Development"): each snippet is
 * linted as if it were a file in a room, through ESLint's Node API with the repository's own config.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const RULES = new Set(['@typescript-eslint/no-restricted-imports', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(async () => {
  eslint = new ESLint({ cwd: ROOT });
});

/** The boundary messages for `code` linted as `file`; other rules' findings (unused names...) do not count. */
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  expect(result!.messages.filter((m) => m.fatal)).toEqual([]);
  return result!.messages.filter((m) => m.ruleId !== null && RULES.has(m.ruleId)).map((m) => m.message);
}

describe('rooms and arrows', () => {
  it('refuses a controller importing the API server, and lets it use the client and the runtime door', async () => {
    const wrong = await boundaryErrors('src/controllers/new-controller.ts', `import { Resources } from '../apiserver/resources.js';\nexport const r = Resources;\n`);
    expect(wrong).toEqual([expect.stringContaining('src/controllers may not import src/apiserver')]);
    const right = await boundaryErrors(
      'src/controllers/new-controller.ts',
      `import { ApiClient } from '../client/api-client.js';\nimport { Runtime } from '../runtime/index.js';\nimport { kinds } from '../api/registry.js';\nexport const x = [ApiClient, Runtime, kinds];\n`,
    );
    expect(right).toEqual([]);
  });

  it('refuses runtime internals outside the runtime, but not inside it', async () => {
    const code = `import { readRecord } from '../runtime/containers/record.js';\nexport const r = readRecord;\n`;
    expect(await boundaryErrors('src/agent/new-file.ts', code)).toEqual([expect.stringContaining('src/agent may import only src/runtime/index.ts of src/runtime')]);
    expect(await boundaryErrors('src/runtime/new-file.ts', `import { readRecord } from './containers/record.js';\nexport const r = readRecord;\n`)).toEqual([]);
  });

  it('lets every room import types of src/api, and the runtime no values of it', async () => {
    expect(await boundaryErrors('src/runtime/images/new-file.ts', `import type { KindInfo } from '../../api/kind.js';\nexport type K = KindInfo;\n`)).toEqual([]);
    expect(await boundaryErrors('src/util/new-file.ts', `import { type KindInfo } from '../api/kind.js';\nexport type K = KindInfo;\n`)).toEqual([]);
    const value = await boundaryErrors('src/runtime/images/new-file.ts', `import { apiVersionOf } from '../../api/kind.js';\nexport const a = apiVersionOf;\n`);
    expect(value).toEqual([expect.stringContaining('src/runtime may import only types from src/api')]);
  });

  it('refuses import() expressions and import() types across the arrows too', async () => {
    const dyn = await boundaryErrors('src/cli/commands/new-command.ts', `export async function f() {\n  return (await import('../../runtime/index.js')).Runtime;\n}\n`);
    expect(dyn).toEqual([expect.stringContaining('src/cli may not import src/runtime')]);
    const typ = await boundaryErrors('src/controllers/new-controller.ts', `export type S = import('../store/types.js').Store;\n`);
    expect(typ).toEqual([expect.stringContaining('src/controllers may not import src/store')]);
    expect(await boundaryErrors('src/cli/commands/new-command.ts', `export async function f() {\n  return (await import('../client.js')).toString();\n}\n`)).toEqual([]);
  });

  it('keeps the shared leaves leaves, src/cmd out of reach, and lets src/cmd compose anything', async () => {
    expect(await boundaryErrors('src/util/new-file.ts', `import { openStore } from '../store/index.js';\nexport const o = openStore;\n`)).toEqual([
      expect.stringContaining('src/util may not import src/store'),
    ]);
    expect(await boundaryErrors('src/metrics/new-file.ts', `import { x } from '../util/new-file.js';\nexport const y = x;\n`)).toEqual([]);
    expect(await boundaryErrors('src/cli/new-file.ts', `import { main } from '../cmd/berth.js';\nexport const m = main;\n`)).toEqual([expect.stringContaining('src/cli may not import src/cmd')]);
    const cmd = `import { startApiServer } from '../apiserver/server.js';\nimport { Agent } from '../agent/agent.js';\nimport { Builder } from '../runtime/build/builder.js';\nexport const all = [startApiServer, Agent, Builder];\n`;
    expect(await boundaryErrors('src/cmd/berth.ts', cmd)).toEqual([]);
  });

  it('lints the repository clean: no room imports against the arrows', async () => {
    const results = await eslint.lintFiles(['src']);
    const found = results.flatMap((r) => r.messages.filter((m) => m.ruleId !== null && RULES.has(m.ruleId)).map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(found).toEqual([]);
  });
});
