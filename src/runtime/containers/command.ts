import { invalid } from '../util/errors.js';
import type { ContainerConfig } from '../images/schema.js';

/**
 * Docker/Kubernetes semantics: `command` replaces the image ENTRYPOINT and drops the image CMD;
 * `args` replaces CMD. Neither: ENTRYPOINT + CMD.
 */
export function resolveProcessArgs(image: ContainerConfig, command?: readonly string[], args?: readonly string[]): string[] {
  const entrypoint = command ?? image.Entrypoint ?? [];
  const cmd = args ?? (command ? [] : (image.Cmd ?? []));
  const out = [...entrypoint, ...cmd];
  if (out.length === 0) throw invalid('command: no command specified (the image has no ENTRYPOINT or CMD)');
  return out;
}

/** Merges env lists by key, later wins; adds Docker's default PATH when missing. */
export function mergeEnv(...lists: Array<readonly string[] | null | undefined>): string[] {
  const env = new Map<string, string>();
  for (const list of lists) {
    for (const e of list ?? []) {
      const eq = e.indexOf('=');
      if (eq <= 0) throw invalid(`env: "${e}" is not KEY=VALUE`);
      env.set(e.slice(0, eq), e);
    }
  }
  if (!env.has('PATH')) env.set('PATH', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  return [...env.values()];
}
