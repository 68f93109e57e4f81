/**
 * Docker's default seccomp profile, applied to every container that is not privileged or
 * `seccomp: unconfined`. The profile is not typed here: scripts/gen-seccomp generates it at build
 * time (gen-seccomp.ts) from Docker's own profiles/seccomp/default.json as Debian ships it, keeping
 * only the rules for this machine's architecture, into generated/seccomp-default.json. At create
 * time the rules that depend on capabilities or the kernel version are resolved as moby's
 * setupSeccomp does, giving the OCI spec's linux.seccomp.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { failed } from '../util/errors.js';

const condition = z.object({
  arches: z.array(z.string()).optional(),
  caps: z.array(z.string()).optional(),
  minKernel: z.string().optional(),
});

const seccompArg = z.object({
  index: z.number().int().min(0),
  value: z.number().min(0),
  valueTwo: z.number().min(0).optional(),
  op: z.string(),
});

/** moby's profile format (profiles/seccomp/seccomp.go `Seccomp`): rules conditioned on arch, caps and kernel. */
export const MobyProfileSchema = z.object({
  defaultAction: z.string(),
  defaultErrnoRet: z.number().int().optional(),
  archMap: z.array(z.object({ architecture: z.string(), subArchitectures: z.array(z.string()).nullish() })).nullish(),
  architectures: z.array(z.string()).nullish(),
  syscalls: z.array(
    z.object({
      names: z.array(z.string()).nullish(),
      name: z.string().optional(),
      action: z.string(),
      errnoRet: z.number().int().optional(),
      args: z.array(seccompArg).nullish(),
      includes: condition.nullish(),
      excludes: condition.nullish(),
    }),
  ),
});
export type MobyProfile = z.infer<typeof MobyProfileSchema>;

/** The generated file: the profile for one architecture, with caps and kernel conditions left for create time. */
export const GeneratedProfileSchema = z.object({
  /** Where it came from (package, version, path, sha256 of the source file): how to regenerate is in scripts/gen-seccomp. */
  source: z.record(z.string(), z.string()),
  /** The architecture it was generated for, as moby names it (amd64, arm64, ...). */
  arch: z.string(),
  defaultAction: z.string(),
  defaultErrnoRet: z.number().int().optional(),
  architectures: z.array(z.string()),
  syscalls: z.array(
    z.object({
      names: z.array(z.string()),
      action: z.string(),
      errnoRet: z.number().int().optional(),
      args: z.array(seccompArg).optional(),
      includesCaps: z.array(z.string()).optional(),
      excludesCaps: z.array(z.string()).optional(),
      minKernel: z.string().optional(),
      belowKernel: z.string().optional(),
    }),
  ),
});
export type GeneratedProfile = z.infer<typeof GeneratedProfileSchema>;

/** Node's process.arch as moby names architectures in its profile (goToNative of GOARCH). */
const NODE_TO_MOBY: Record<string, string> = { x64: 'amd64', ia32: 'x86', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', s390: 's390', mipsel: 'mipsel', mips: 'mips' };
/** moby's nativeToSeccomp: the architecture the archMap is keyed by. */
const MOBY_TO_SECCOMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64', mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32', mipsel64: 'SCMP_ARCH_MIPSEL64', mips3l64n32: 'SCMP_ARCH_MIPSEL64N32', mipsel: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC', ppc64: 'SCMP_ARCH_PPC64', ppc64le: 'SCMP_ARCH_PPC64LE', s390: 'SCMP_ARCH_S390', s390x: 'SCMP_ARCH_S390X',
};

export function mobyArch(nodeArch: string = process.arch): string {
  const a = NODE_TO_MOBY[nodeArch];
  if (!a) throw failed(`seccomp: no default profile for architecture ${nodeArch}`);
  return a;
}

/**
 * Build time: moby's profile for one architecture. Rules for other architectures go; the rest keep
 * their capability and kernel conditions (they depend on each container and on the running kernel).
 */
export function profileForArch(src: MobyProfile, arch: string, source: Record<string, string>): GeneratedProfile {
  const seccompArch = MOBY_TO_SECCOMP[arch];
  if (!seccompArch) throw new Error(`seccomp: unknown architecture ${arch}`);
  if (src.architectures?.length && src.archMap?.length) throw new Error("seccomp profile: both 'architectures' and 'archMap' are set");
  const architectures = [...(src.architectures ?? [])];
  const mapped = (src.archMap ?? []).find((a) => a.architecture === seccompArch);
  if (mapped) architectures.push(mapped.architecture, ...(mapped.subArchitectures ?? []));
  const syscalls: GeneratedProfile['syscalls'] = [];
  for (const call of src.syscalls) {
    if (call.excludes?.arches?.includes(arch)) continue;
    if (call.includes?.arches?.length && !call.includes.arches.includes(arch)) continue;
    if (call.name && call.names?.length) throw new Error("seccomp profile: both 'name' and 'names' are set in one rule");
    const names = call.name ? [call.name] : (call.names ?? []);
    if (names.length === 0) continue;
    syscalls.push({
      names,
      action: call.action,
      ...(call.errnoRet !== undefined ? { errnoRet: call.errnoRet } : {}),
      ...(call.args?.length ? { args: call.args } : {}),
      ...(call.includes?.caps?.length ? { includesCaps: call.includes.caps } : {}),
      ...(call.excludes?.caps?.length ? { excludesCaps: call.excludes.caps } : {}),
      ...(call.includes?.minKernel ? { minKernel: call.includes.minKernel } : {}),
      ...(call.excludes?.minKernel ? { belowKernel: call.excludes.minKernel } : {}),
    });
  }
  return {
    source,
    arch,
    defaultAction: src.defaultAction,
    ...(src.defaultErrnoRet !== undefined ? { defaultErrnoRet: src.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}

/** Is kernel `have` (a uname release such as 6.1.0-18-amd64) at least `want` (such as 4.8)? */
export function kernelAtLeast(have: string, want: string): boolean {
  const parse = (v: string): number[] => (/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v) ?? []).slice(1, 4).map((x) => Number(x ?? 0));
  const h = parse(have);
  const w = parse(want);
  if (w.length === 0 || h.length === 0) throw failed(`seccomp: cannot compare kernel versions ${have} and ${want}`);
  for (let i = 0; i < 3; i++) if ((h[i] ?? 0) !== (w[i] ?? 0)) return (h[i] ?? 0) > (w[i] ?? 0);
  return true;
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args?: Array<z.infer<typeof seccompArg>> }>;
}

/** Create time (moby's setupSeccomp): the rules that apply to a container with this bounding set on this kernel. */
export function seccompFor(p: GeneratedProfile, bounding: readonly string[], kernel: string = release()): OciSeccomp {
  const has = (c: string): boolean => bounding.includes(c);
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const call of p.syscalls) {
    if (call.excludesCaps?.some(has)) continue;
    if (call.belowKernel && kernelAtLeast(kernel, call.belowKernel)) continue;
    if (call.includesCaps && !call.includesCaps.every(has)) continue;
    if (call.minKernel && !kernelAtLeast(kernel, call.minKernel)) continue;
    syscalls.push({ names: call.names, action: call.action, ...(call.errnoRet !== undefined ? { errnoRet: call.errnoRet } : {}), ...(call.args ? { args: call.args } : {}) });
  }
  return {
    defaultAction: p.defaultAction,
    ...(p.defaultErrnoRet !== undefined ? { defaultErrnoRet: p.defaultErrnoRet } : {}),
    architectures: p.architectures,
    syscalls,
  };
}

/** Where scripts/gen-seccomp writes the profile: generated/ at the top of the checkout (from src/ and dist/ alike). */
export const DEFAULT_PROFILE_PATH = fileURLToPath(new URL('../../../generated/seccomp-default.json', import.meta.url));

const loaded = new Map<string, GeneratedProfile>();

/**
 * The generated default profile; refuses one made for another architecture. Without it no container
 * starts confined, so its absence is an error naming the command that makes it, not a silent
 * fallback to no filter.
 */
export function loadDefaultProfile(path: string = DEFAULT_PROFILE_PATH): GeneratedProfile {
  const hit = loaded.get(path);
  if (hit) return hit;
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw failed(`seccomp: the default profile ${path} is missing (${(e as NodeJS.ErrnoException).code ?? 'unreadable'}); run scripts/gen-seccomp (scripts/setup does)`);
  }
  const parsed = GeneratedProfileSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw failed(`seccomp: ${path} is not a generated profile: ${parsed.error.issues[0]?.message ?? ''}; run scripts/gen-seccomp`);
  const want = mobyArch();
  if (parsed.data.arch !== want) throw failed(`seccomp: ${path} was generated for ${parsed.data.arch}, this machine is ${want}; run scripts/gen-seccomp`);
  loaded.set(path, parsed.data);
  return parsed.data;
}
