import type { ApiObject } from '../api/meta.js';
import { matchFieldRequirements, matchLabelRequirements, parseFieldSelector, parseLabelSelector } from './selectors.js';

/** What a list or watch asks for: a namespace plus label and field selectors, compiled once. */
export interface Selection {
  /** undefined: every namespace. */
  namespace: string | undefined;
  /** True when only the namespace matters, so objects need not be parsed to filter them. */
  trivial: boolean;
  matches(obj: ApiObject): boolean;
}

export function compileSelection(opts: { namespace?: string; labelSelector?: string; fieldSelector?: string }): Selection {
  const labelReqs = parseLabelSelector(opts.labelSelector ?? '');
  const fieldReqs = parseFieldSelector(opts.fieldSelector ?? '');
  const labels = matchLabelRequirements(labelReqs);
  const fields = matchFieldRequirements(fieldReqs);
  return {
    namespace: opts.namespace ? opts.namespace : undefined,
    trivial: labelReqs.length === 0 && fieldReqs.length === 0,
    matches: (obj) => labels(obj.metadata?.labels) && fields(obj),
  };
}
