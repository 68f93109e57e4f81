/**
 * The `semver` package (npm's own parser) for ref ranges over tags. It ships no types and is loaded
 * through require, so this file declares the three functions used.
 */
import { createRequire } from 'node:module';

interface SemverApi {
  valid(v: string, options?: { loose?: boolean }): string | null;
  validRange(range: string, options?: { loose?: boolean }): string | null;
  maxSatisfying(versions: string[], range: string, options?: { loose?: boolean }): string | null;
}

const semver = createRequire(import.meta.url)('semver') as SemverApi;

/** Whether `ref` reads as a semver range (1.x, ^1.2.0, >=1.0.0 <2.0.0, 1.2.3). */
export function isSemverRange(ref: string): boolean {
  return semver.validRange(ref) !== null;
}

/** The tag among `tags` with the highest version in `range` (a leading v is allowed), or undefined. */
export function highestTagIn(tags: string[], range: string): string | undefined {
  const byVersion = new Map<string, string>();
  for (const t of tags) {
    const v = semver.valid(t);
    // v1.2.3 and 1.2.3 both: the first one listed wins
    if (v !== null && !byVersion.has(v)) byVersion.set(v, t);
  }
  const best = semver.maxSatisfying([...byVersion.keys()], range);
  return best === null ? undefined : byVersion.get(best);
}
