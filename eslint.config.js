import { dirname, posix } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Rooms and arrows (README, Development): which folder of src/ may import which. A room may import
 * itself, the shared leaves src/util and src/metrics, and what is listed here; anything else of src/
 * is refused: static imports and re-exports by `@typescript-eslint/no-restricted-imports`, import()
 * expressions and `import('…')` types by `no-restricted-syntax`. `import type` of src/api is allowed
 * everywhere. 'runtime/index' means src/runtime/index.ts only, the runtime's one door.
 */
export const ROOMS = {
  cmd: '*', // composes the processes: anything
  cli: ['client', 'api'],
  client: ['api'],
  agent: ['client', 'api', 'runtime/index'],
  controllers: ['client', 'api', 'runtime/index'],
  dockerapi: ['client', 'api', 'runtime/index'],
  apiserver: ['store', 'api'],
  store: ['api'],
  api: [],
  registry: ['runtime/index', 'api'],
  runtime: [],
  util: [],
  metrics: [],
};
const LEAVES = ['util', 'metrics'];

const TO_DOOR = 'to be removed: through src/runtime/index.ts, the runtime\'s one door';

/**
 * Imports that break the arrows today (file → forbidden file → why it is still here). Each goes with
 * the refactor named; only ever shrink this list, a new entry is a new violation. Lint fails on any
 * other forbidden import, also in these files; test/unit/lint/rooms.test.ts fails on an entry whose
 * import is gone, so that the list shrinks as the refactors land.
 */
export const ALLOWED_VIOLATIONS = {
  'src/agent/agent.ts': { 'src/runtime/distribution/index.ts': TO_DOOR },
  'src/agent/container-reconciler.ts': { 'src/runtime/containers/record.ts': TO_DOOR },
  'src/agent/exec-session.ts': { 'src/runtime/containers/exec-stream.ts': TO_DOOR },
  'src/agent/image-build.ts': { 'src/runtime/build/builder.ts': TO_DOOR, 'src/runtime/build/progress.ts': TO_DOOR },
  'src/agent/image-reconciler.ts': { 'src/runtime/build/changes.ts': TO_DOOR, 'src/runtime/distribution/index.ts': TO_DOOR },
  'src/agent/node-info.ts': { 'src/runtime/containers/cgroups.ts': TO_DOOR },
  'src/agent/remote-build.ts': {
    'src/runtime/build/builder.ts': TO_DOOR,
    'src/runtime/build/progress.ts': TO_DOOR,
    'src/runtime/distribution/index.ts': TO_DOOR,
    'src/runtime/snapshots/apply-layer.ts': TO_DOOR,
  },
  'src/registry/auth.ts': { 'src/runtime/util/fs.ts': TO_DOOR, 'src/runtime/util/errors.ts': TO_DOOR },
  'src/registry/storage.ts': {
    'src/runtime/content/store.ts': TO_DOOR,
    'src/runtime/util/fs.ts': TO_DOOR,
    'src/runtime/util/mutex.ts': TO_DOOR,
  },
};

/** The specifier `file` uses for `target` (both repo paths of .ts files): '../apiserver/resources.js'. */
export function specifierFor(file, target) {
  const rel = posix.relative(dirname(file), target).replace(/\.ts$/, '.js');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** What `room` may not import: { other room, only the runtime's door allowed?, types allowed? }. */
function forbidden(room) {
  const may = ROOMS[room];
  return Object.keys(ROOMS)
    .filter((other) => other !== room && !LEAVES.includes(other) && !may.includes(other))
    .map((other) => ({ other, doorOnly: other === 'runtime' && may.includes('runtime/index'), typesOk: other === 'api' }));
}

function message(room, { other, doorOnly, typesOk }) {
  const why = doorOnly
    ? `may import only src/runtime/index.ts of src/runtime, its one door`
    : typesOk
      ? `may import only types from src/api (\`import type\`)`
      : `may not import src/${other}`;
  return `src/${room} ${why} (rooms and arrows: README, Development).`;
}

/**
 * The regular expression of the specifiers `room` may not use for `f.other`: any path with a folder of
 * that name ('../apiserver/x.js', '../../store/types.js'), but for the runtime's door where it is
 * allowed and the specifiers in `allowed` (ALLOWED_VIOLATIONS).
 */
function specifierRegex(f, allowed) {
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const skip = allowed.length > 0 ? `(?!(?:${allowed.map(esc).join('|')})$)` : '';
  return `^${skip}(?:.*/)?${f.other}/${f.doorOnly ? '(?!index\\.js$)' : ''}`;
}

/** Static imports and re-exports: no-restricted-imports patterns, types of src/api let through. */
function importPatterns(room, allowed) {
  return forbidden(room).map((f) => ({
    regex: specifierRegex(f, allowed),
    caseSensitive: true,
    message: message(room, f),
    ...(f.typesOk ? { allowTypeImports: true } : {}),
  }));
}

/** import('…') values and import('…') types (TSImportType); esquery's regex literals cannot hold '/', hence \x2F. */
function dynamicSelectors(room, allowed) {
  const out = [];
  for (const f of forbidden(room)) {
    const re = `/${specifierRegex(f, allowed).replaceAll('/', '\\x2F')}/`;
    out.push({ selector: `ImportExpression > Literal.source[value=${re}]`, message: message(room, f) });
    if (!f.typesOk) out.push({ selector: `TSImportType Literal[value=${re}]`, message: message(room, f) });
  }
  return out;
}

function roomRules(room, allowed = []) {
  return {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: importPatterns(room, allowed) }],
    'no-restricted-syntax': ['error', ...dynamicSelectors(room, allowed)],
  };
}

function roomConfigs() {
  const out = [];
  for (const room of Object.keys(ROOMS)) {
    if (ROOMS[room] !== '*') out.push({ files: [`src/${room}/**/*.ts`], rules: roomRules(room) });
  }
  for (const [file, targets] of Object.entries(ALLOWED_VIOLATIONS)) {
    out.push({ files: [file], rules: roomRules(file.split('/')[1], Object.keys(targets).map((t) => specifierFor(file, t))) });
  }
  return out;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Tests read arbitrary JSON answers from the server; typing each one would hide what they check.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...roomConfigs(),
);
