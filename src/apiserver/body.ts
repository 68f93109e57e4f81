/** Request bodies: JSON or YAML (one document), at most 3 MiB. */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { decodeProtobuf } from './protobuf.js';
import { errors } from './status.js';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function parseBody(raw: Buffer | undefined, contentType: string): unknown {
  if (!raw || raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobuf(raw);
  if (type.includes('cbor')) throw errors.unsupportedMediaType(type);
  const yaml = type === 'application/yaml' || type === 'application/apply-patch+yaml' || type === 'text/yaml';
  if (yaml) {
    try {
      return parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
    } catch (err) {
      if (err instanceof YAMLParseError) {
        const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
        throw errors.badRequest(`error decoding YAML body${where}: ${err.message.split('\n')[0]}`);
      }
      throw errors.badRequest(`error decoding YAML body: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw errors.badRequest(`error decoding JSON body: ${err instanceof Error ? err.message : String(err)}`);
  }
}
