import { invalid } from '../util/errors.js';

export interface ParsedReference {
  /** Repository, e.g. "busybox" or "localhost:5000/team/app". */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)';
const REPO_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** Parses `[registry/]repo[:tag][@sha256:...]` like Docker (no implicit docker.io/library prefix). */
export function parseReference(ref: string, field = 'ref'): ParsedReference {
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw invalid(`${field}: "${ref}" has an invalid digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(`${field}: "${ref}" has an invalid tag "${tag}"`);
  }
  if (!REPO_RE.test(rest)) throw invalid(`${field}: "${ref}" is not a valid image reference (lowercase repository[:tag])`);
  // Docker Hub names are kept in their familiar short form, as `docker images` shows them
  for (const hub of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (rest.startsWith(hub)) {
      rest = rest.slice(hub.length);
      break;
    }
  }
  return { repository: rest, tag, digest };
}

/** "busybox" -> "busybox:latest"; keeps an explicit tag. */
export function normaliseTaggedName(ref: string, field = 'ref'): string {
  const p = parseReference(ref, field);
  if (p.digest) throw invalid(`${field}: "${ref}": a digest reference cannot be used as a tag`);
  return `${p.repository}:${p.tag ?? 'latest'}`;
}

/** The name two spellings of one image ref share ("busybox", "docker.io/library/busybox:latest"); a ref that is no tagged name stays as it is. */
export function normaliseImageRef(ref: string): string {
  try {
    return normaliseTaggedName(ref);
  } catch {
    return ref.trim();
  }
}
