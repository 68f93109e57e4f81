import { randomInt } from 'node:crypto';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Error text for a bad object name, or undefined when it is fine. */
export function nameProblem(name: string, asLabel: boolean): string | undefined {
  if (asLabel) {
    if (name.length > 63 || !LABEL.test(name))
      return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')`;
    return undefined;
  }
  if (name.length > 253 || !NAME.test(name))
    return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`;
  return undefined;
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** generateName as Kubernetes does it: the prefix (cut to fit) plus five random characters. */
export function generateName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return prefix.slice(0, 253 - 5) + suffix;
}
