import { invalid } from '../util/errors.js';
import { parseReference } from '../images/reference.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

export interface RemoteReference {
  /** Registry host[:port], e.g. "docker.io" or "127.0.0.1:5000". */
  registry: string;
  /** Repository path on that registry, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
  /** The name the local image store uses: Docker Hub images in their short form ("busybox:latest"). */
  localName?: string;
}

/** Docker's rule: the first path component is a registry when it has a dot or a port, or is "localhost". */
function isDomain(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Parses `[registry/]repo[:tag][@digest]` with docker.io normalisation: "busybox" is
 * docker.io/library/busybox:latest, "team/app" is docker.io/team/app:latest.
 */
export function parseRemoteReference(ref: string, field = 'ref'): RemoteReference {
  const p = parseReference(ref, field);
  const slash = p.repository.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = p.repository;
  if (slash > 0 && isDomain(p.repository.slice(0, slash))) {
    registry = p.repository.slice(0, slash);
    repository = p.repository.slice(slash + 1);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (repository !== repository.toLowerCase()) throw invalid(`${field}: "${ref}": repository names must be lowercase`);
  const tag = p.tag ?? (p.digest ? undefined : 'latest');
  const familiar = registry === DOCKER_HUB ? repository.replace(/^library\//, '') : `${registry}/${repository}`;
  return { registry, repository, tag, digest: p.digest, localName: tag ? `${familiar}:${tag}` : undefined };
}

export function formatRemote(r: RemoteReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
