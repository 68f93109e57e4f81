import { z } from 'zod';

/**
 * Image references, with the grammar of distribution/reference:
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path-component [ "/" path-component ]*
 * The first component is a domain only when it contains '.' or ':', is 'localhost', or has an
 * uppercase letter; otherwise it is part of the repository path (`library/busybox`).
 *
 * Objects keep `spec.ref` / `spec.image` exactly as written. Consumers apply the default tag
 * (`latest`, when there is neither tag nor digest) with `withDefaultTag`, or Docker's full
 * normalisation (`docker.io/library/...`) with `normalizeImageRef`.
 */

const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `(?:${domainComponent}(?:\\.${domainComponent})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const tag = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

/** RE2-compatible, so it can also serve as the CRD `pattern`. */
export const imageRefPattern = new RegExp(
  `^(?:${domain}/)?${pathComponent}(?:/${pathComponent})*(?::${tag})?(?:@${digest})?$`,
);

const digestPattern = new RegExp(`^${digest}$`);

export const DEFAULT_TAG = 'latest';
export const DEFAULT_REGISTRY = 'docker.io';

export interface ImageRef {
  /** Registry host[:port], when the reference names one. */
  domain?: string;
  /** Repository path, e.g. `library/busybox` or `busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

function looksLikeDomain(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase();
}

/** Parses an image reference; undefined when it is not one. */
export function parseImageRef(ref: string): ImageRef | undefined {
  if (ref.length > 512 || !imageRefPattern.test(ref)) return undefined;
  let rest = ref;
  let dig: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    dig = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let dom: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeDomain(rest.slice(0, slash))) {
    dom = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  let tg: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tg = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  // The pattern lets an uppercase first component through as a domain; without a '/', or when it
  // was not taken as a domain, uppercase is not allowed in a repository path.
  if (rest !== rest.toLowerCase() || rest.length > 255) return undefined;
  const out: ImageRef = { path: rest };
  if (dom !== undefined) out.domain = dom;
  if (tg !== undefined) out.tag = tg;
  if (dig !== undefined) out.digest = dig;
  return out;
}

export function formatImageRef(r: ImageRef): string {
  return `${r.domain ? `${r.domain}/` : ''}${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** `busybox` -> `busybox:latest`; a reference with a tag or digest is returned unchanged. */
export function withDefaultTag(ref: string): string {
  const r = parseImageRef(ref);
  if (!r) throw new Error(`invalid image reference ${JSON.stringify(ref)}`);
  if (r.tag || r.digest) return ref;
  return formatImageRef({ ...r, tag: DEFAULT_TAG });
}

/** Docker's normalisation: `busybox` -> `docker.io/library/busybox:latest`. */
export function normalizeImageRef(ref: string): string {
  const r = parseImageRef(ref);
  if (!r) throw new Error(`invalid image reference ${JSON.stringify(ref)}`);
  const dom = r.domain ?? DEFAULT_REGISTRY;
  const path = dom === DEFAULT_REGISTRY && !r.path.includes('/') ? `library/${r.path}` : r.path;
  const out: ImageRef = { domain: dom, path };
  if (r.tag) out.tag = r.tag;
  else if (!r.digest) out.tag = DEFAULT_TAG;
  if (r.digest) out.digest = r.digest;
  return formatImageRef(out);
}

const IMAGE_REF_MESSAGE =
  'must be an image reference [registry/]repository[:tag][@digest] with a lowercase repository, e.g. busybox:1.36';

export const imageRef = z
  .string()
  .min(1)
  .max(512)
  .regex(imageRefPattern, { message: IMAGE_REF_MESSAGE, abort: true })
  .refine((s) => parseImageRef(s) !== undefined, { message: IMAGE_REF_MESSAGE });

/** A content digest such as sha256:<64 hex>. */
export const contentDigest = z
  .string()
  .regex(digestPattern, { message: 'must be a digest such as sha256:<64 hex digits>' });
