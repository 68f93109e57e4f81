import { kinds } from '../api/registry.js';
import type { ResourceRef } from './kinds.js';

/** The kinds Berth serves, known to the CLI without a discovery round trip. */
export const knownKinds: readonly ResourceRef[] = kinds.map((k) => ({
  group: k.group,
  version: k.version,
  kind: k.kind,
  plural: k.plural,
  singular: k.singular,
  shortNames: k.shortNames,
  namespaced: k.namespaced,
}));
