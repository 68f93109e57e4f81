/**
 * Writes generated/seccomp-default.json from moby's profile format (run by scripts/gen-seccomp,
 * which finds Docker's default.json in Debian's package): `tsx gen-seccomp.ts SOURCE OUT [key=value...]`,
 * the key=value pairs describing the source (package, version) for whoever reads the output.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { MobyProfileSchema, mobyArch, profileForArch } from './seccomp.js';

async function main(): Promise<void> {
  const [src, out, ...pairs] = process.argv.slice(2);
  if (!src || !out) throw new Error('usage: gen-seccomp SOURCE.json OUT.json [key=value...]');
  const raw = readFileSync(src);
  const parsed = MobyProfileSchema.safeParse(JSON.parse(raw.toString('utf8')));
  if (!parsed.success) throw new Error(`${src}: not a seccomp profile in moby's format: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const source: Record<string, string> = { path: src, sha256: createHash('sha256').update(raw).digest('hex') };
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq > 0) source[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const arch = mobyArch();
  const profile = profileForArch(parsed.data, arch, source);
  if (profile.architectures.length === 0) throw new Error(`${src}: no archMap entry for ${arch}`);
  if (profile.syscalls.length < 10) throw new Error(`${src}: only ${profile.syscalls.length} rules for ${arch}: not a default profile`);
  await mkdir(dirname(out), { recursive: true });
  await writeFileAtomic(out, `${JSON.stringify(profile, null, 1)}\n`);
  const allowed = profile.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.includesCaps && !s.args).reduce((n, s) => n + s.names.length, 0);
  console.log(`gen-seccomp: ${out}: ${arch} (${profile.architectures.join(', ')}), ${profile.syscalls.length} rules, ${allowed} syscalls allowed unconditionally, from ${source.package ?? src} ${source.version ?? ''}`.trim());
}

main().catch((e: unknown) => {
  console.error(`gen-seccomp: ${(e as Error).message}`);
  process.exit(1);
});
