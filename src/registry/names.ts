import { regError } from './errors.js';

// distribution/reference: path components of lowercase alphanumerics joined by separators
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** Repository names: lowercase path components, no `..`, at most 255 characters (NAME_INVALID otherwise). */
export function validateName(name: string): string {
  if (name.length === 0 || name.length > 255 || !NAME_RE.test(name)) {
    throw regError('NAME_INVALID', `invalid repository name "${name}": lowercase letters, digits and separators (. _ - /) only, at most 255 characters`, { name });
  }
  return name;
}

export const isTag = (s: string): boolean => TAG_RE.test(s);
export const isDigest = (s: string): boolean => DIGEST_RE.test(s);

export function validateDigest(d: string | undefined, field = 'digest'): string {
  if (d === undefined || !DIGEST_RE.test(d)) {
    // other algorithms are valid digests in the spec, but this registry stores sha256 only
    if (d !== undefined && /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d) && !d.startsWith('sha256:')) {
      throw regError('UNSUPPORTED', `${field}: digest algorithm of "${d}" is not supported (sha256 only)`, undefined, 400);
    }
    throw regError('DIGEST_INVALID', `${field}: "${d ?? ''}" is not a sha256 digest`, { digest: d });
  }
  return d;
}

/** A manifest reference: a tag or a digest. */
export function validateReference(ref: string): { tag?: string; digest?: string } {
  if (ref.includes(':')) return { digest: validateDigest(ref, 'reference') };
  if (!TAG_RE.test(ref)) throw regError('TAG_INVALID', `invalid tag "${ref}": at most 128 of [A-Za-z0-9_.-], not starting with . or -`, { tag: ref });
  return { tag: ref };
}
