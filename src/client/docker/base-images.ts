/**
 * The base images a Dockerfile needs (its FROM lines, less `scratch` and earlier stages), with the
 * ARGs declared before the first FROM and --build-arg substituted: what `berth build` makes present
 * on the node before building, as docker build pulls a missing base image.
 */
export function baseImages(dockerfile: string, buildArgs: Record<string, string> = {}): string[] {
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim());
  const args: Record<string, string> = {};
  const stages = new Set<string>();
  const out: string[] = [];
  let seenFrom = false;
  const subst = (s: string) => s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a?: string, def?: string, b?: string) => {
    const name = (a ?? b)!;
    return args[name] || def || '';
  });
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const word = m[1]!.toUpperCase();
    if (word === 'ARG' && !seenFrom) {
      for (const decl of m[2]!.split(/\s+/)) {
        const eq = decl.indexOf('=');
        const name = eq < 0 ? decl : decl.slice(0, eq);
        args[name] = buildArgs[name] ?? (eq < 0 ? '' : decl.slice(eq + 1).replace(/^"(.*)"$/, '$1'));
      }
    }
    if (word !== 'FROM') continue;
    seenFrom = true;
    const parts = m[2]!.split(/\s+/).filter((p) => !p.startsWith('--'));
    const image = subst(parts[0] ?? '');
    // FROM of an earlier stage (FROM x AS build ... FROM build) names no image
    if (image && image.toLowerCase() !== 'scratch' && !stages.has(image.toLowerCase()) && !out.includes(image)) out.push(image);
    if (parts[1]?.toUpperCase() === 'AS' && parts[2]) stages.add(parts[2].toLowerCase());
  }
  return out;
}
