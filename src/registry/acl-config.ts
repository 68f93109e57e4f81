/** The registry's ACL file (YAML or JSON, docker_auth's `acl:` format), validated with zod. */
import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { z } from 'zod';
import { formatCauses, issuesToCauses } from '../api/validation.js';
import { Acl, compilePattern, type AclRule } from './acl.js';

const pattern = (what: string) =>
  z.string().superRefine((s, ctx) => {
    try {
      compilePattern(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${what} "${s}" is not a valid regular expression: ${(e as Error).message}` });
    }
  });

const RuleSchema = z.strictObject({
  match: z.strictObject({
    account: pattern('account').optional(),
    name: pattern('name').optional(),
  }),
  actions: z.array(z.enum(['pull', 'push', 'delete', '*'], { error: (i) => `"${String(i.input)}" is not an action (pull, push, delete or *)` })),
  comment: z.string().optional(),
});

export const AclFileSchema = z.strictObject({
  acl: z.array(RuleSchema),
});

/** Validates parsed ACL file content; errors name the offending field (`acl[2].actions[0]: ...`). */
export function parseAcl(raw: unknown, source: string): Acl {
  const r = AclFileSchema.safeParse(raw);
  if (!r.success) throw new Error(`registry ACL ${source}: ${formatCauses(issuesToCauses(r.error.issues))}`);
  return new Acl(r.data.acl as AclRule[]);
}

export async function loadAclFile(path: string): Promise<Acl> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`registry ACL ${path}: ${(e as Error).message}`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new Error(`registry ACL ${path}: not YAML or JSON: ${doc.errors[0]?.message ?? ''}`);
  return parseAcl(doc.toJS(), path);
}
