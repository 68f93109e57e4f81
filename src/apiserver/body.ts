/**
 * Request bodies: JSON or YAML (one document), at most 3 MiB, of a media type the verb takes: an
 * object (POST, PUT, DELETE options) is application/json, application/yaml or protobuf; a patch is
 * one of the patch types (patch.ts). Anything else is 415, as Kubernetes answers (a text/plain
 * body is not read as JSON).
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { decodeProtobuf } from './protobuf.js';
import { jsonDepth } from './objects.js';
import { errors } from './status.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Deepest nesting of objects and arrays a body may have (Kubernetes' decoder stops at 10000; no Berth object comes near 64). */
export const MAX_BODY_DEPTH = 256;

function checkDepth(v: unknown): unknown {
  if (jsonDepth(v, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) throw errors.badRequest(`the request body nests deeper than ${MAX_BODY_DEPTH} levels`);
  return v;
}

const OBJECT_TYPES = new Set(['application/json', 'application/yaml', 'text/yaml', 'application/vnd.kubernetes.protobuf']);
const PATCH_TYPES = new Set(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'application/apply-patch+json']);

/** The media type of a Content-Type header: 'application/json' of 'application/json; charset=utf-8'. */
export function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/**
 * Parses a body of an object (`patch` false) or a patch (`patch` true). An absent Content-Type is
 * taken as JSON; an unsupported one is 415 before the body is looked at.
 */
export function parseBody(raw: Buffer | undefined, contentType: string, patch = false): unknown {
  const type = mediaType(contentType || 'application/json');
  if (!(patch ? PATCH_TYPES : OBJECT_TYPES).has(type)) throw errors.unsupportedMediaType(type);
  if (!raw || raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(raw);
  const yaml = type === 'application/yaml' || type === 'application/apply-patch+yaml' || type === 'text/yaml';
  if (yaml) {
    try {
      return checkDepth(parseYaml(text, { maxAliasCount: 100, uniqueKeys: true }));
    } catch (err) {
      if (err instanceof YAMLParseError) {
        const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
        throw errors.badRequest(`error decoding YAML body${where}: ${err.message.split('\n')[0]}`);
      }
      throw errors.badRequest(`error decoding YAML body: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return checkDepth(JSON.parse(text) as unknown);
  } catch (err) {
    throw errors.badRequest(`error decoding JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}
