/** The API server's admission flags: --pod-security-default and --allowed-host-paths. */
import { isAbsolute } from 'node:path';
import type { FlagSpecs } from '../cli/args.js';
import { CliError } from '../cli/errors.js';
import { parseLevel, POD_SECURITY_LEVELS, type PodSecurityOptions } from '../apiserver/pod-security.js';

export const securityFlags = {
  'pod-security-default': { type: 'string', valueName: 'LEVEL', default: 'baseline', description: `level of a namespace without the berth.dev/enforce label: ${POD_SECURITY_LEVELS.join(', ')}` },
  'allowed-host-paths': { type: 'string', valueName: 'LIST', description: 'comma-separated host directories that Containers may mount (hostPath) in baseline namespaces; none by default' },
} as const satisfies FlagSpecs;

export function podSecurityFrom(values: { 'pod-security-default'?: string; 'allowed-host-paths'?: string }): PodSecurityOptions {
  let defaultLevel;
  try {
    defaultLevel = parseLevel(values['pod-security-default'] ?? 'baseline');
  } catch (e) {
    throw new CliError(`--pod-security-default: ${(e as Error).message}`);
  }
  const allowedHostPaths = (values['allowed-host-paths'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const p of allowedHostPaths) {
    if (!isAbsolute(p) || p.split('/').includes('..')) throw new CliError(`--allowed-host-paths: "${p}" is not an absolute path without ".."`);
  }
  return { defaultLevel, allowedHostPaths };
}
