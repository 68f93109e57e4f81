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
 * allowed.
 */
function specifierRegex(f) {
  return `^(?:.*/)?${f.other}/${f.doorOnly ? '(?!index\\.js$)' : ''}`;
}

/** Static imports and re-exports: no-restricted-imports patterns, types of src/api let through. */
function importPatterns(room) {
  return forbidden(room).map((f) => ({
    regex: specifierRegex(f),
    caseSensitive: true,
    message: message(room, f),
    ...(f.typesOk ? { allowTypeImports: true } : {}),
  }));
}

/** import('…') values and import('…') types (TSImportType); esquery's regex literals cannot hold '/', hence \x2F. */
function dynamicSelectors(room) {
  const out = [];
  for (const f of forbidden(room)) {
    const re = `/${specifierRegex(f).replaceAll('/', '\\x2F')}/`;
    out.push({ selector: `ImportExpression > Literal.source[value=${re}]`, message: message(room, f) });
    if (!f.typesOk) out.push({ selector: `TSImportType Literal[value=${re}]`, message: message(room, f) });
  }
  return out;
}

function roomRules(room) {
  return {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: importPatterns(room) }],
    'no-restricted-syntax': ['error', ...dynamicSelectors(room)],
  };
}

function roomConfigs() {
  const out = [];
  for (const room of Object.keys(ROOMS)) {
    if (ROOMS[room] !== '*') out.push({ files: [`src/${room}/**/*.ts`], rules: roomRules(room) });
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
