import { relative } from 'node:path';
import { runCommand } from '../util/exec.js';
import { failed } from '../util/errors.js';

/** getfattr writes names with `\ooo` octal escapes (backslash, newline, non-printable bytes). */
function unescapeName(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const m = /^\\([0-7]{3})/.exec(text.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1] as string, 8));
      i += 3;
    } else bytes.push(...Buffer.from(text[i] as string, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Directories of an overlay-format layer marked opaque (trusted.overlay.opaque=y), relative to the
 * layer root: one getfattr walk for the whole tree instead of one process per directory.
 */
export async function listOpaqueDirs(layer: string): Promise<Set<string>> {
  const r = await runCommand('getfattr', ['--recursive', '--physical', '--no-dereference', '--absolute-names', '--match=^trusted\\.overlay\\.opaque$', '--dump', layer], {
    env: { ...process.env, LC_ALL: 'C' },
  });
  if (r.code !== 0) throw failed(`getfattr on ${layer} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const out = new Set<string>();
  let file: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = unescapeName(line.slice('# file: '.length));
    else if (file !== undefined && line === 'trusted.overlay.opaque="y"') out.add(relative(layer, file));
  }
  return out;
}
