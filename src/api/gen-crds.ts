import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crd.js';

/** `npm run gen`: writes manifests/crds/<plural>.berth.dev.yaml and removes stale ones. */

export const crdDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../manifests/crds');
/** Helm installs a chart's crds/ before its templates: the chart carries the same files. */
export const chartCrdDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../charts/berth/crds');

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function generateCrds(dir: string = crdDir): { written: string[]; removed: string[] } {
  mkdirSync(dir, { recursive: true });
  const files = renderCrds();
  const written: string[] = [];
  for (const [name, text] of files) {
    writeAtomic(join(dir, name), text);
    written.push(name);
  }
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.berth.dev.yaml') && !files.has(name)) {
      unlinkSync(join(dir, name));
      removed.push(name);
    }
  }
  return { written, removed };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [dir, label] of [
    [crdDir, 'manifests/crds'],
    [chartCrdDir, 'charts/berth/crds'],
  ] as const) {
    const { written, removed } = generateCrds(dir);
    for (const n of written) console.log(`wrote ${label}/${n}`);
    for (const n of removed) console.log(`removed stale ${label}/${n}`);
  }
}
