/** The API server's admission and limit flags: --pod-security-default, --allowed-host-paths, watch limits. */
import { isAbsolute } from 'node:path';
import type { FlagSpecs } from '../cli/args.js';
import { CliError } from '../cli/errors.js';
import { parseLevel, POD_SECURITY_LEVELS, type PodSecurityOptions } from '../apiserver/pod-security.js';
import { DEFAULT_WATCH_BUFFER_BYTES, DEFAULT_WATCHES_PER_USER, defaultWatchSettings, type WatchSettings } from '../apiserver/watch.js';

export const securityFlags = {
  'pod-security-default': { type: 'string', valueName: 'LEVEL', default: 'baseline', description: `level of a namespace without the berth.dev/enforce label: ${POD_SECURITY_LEVELS.join(', ')}` },
  'allowed-host-paths': { type: 'string', valueName: 'LIST', description: 'comma-separated host directories that Containers may mount (hostPath) in baseline namespaces; none by default' },
  'max-watches-per-user': { type: 'string', valueName: 'N', default: String(DEFAULT_WATCHES_PER_USER), description: 'watches one identity may hold open at once (one more is 429)' },
  'watch-buffer-bytes': { type: 'string', valueName: 'BYTES', default: String(DEFAULT_WATCH_BUFFER_BYTES), description: 'unread bytes a watch may hold before its client is dropped' },
} as const satisfies FlagSpecs;

function positiveInt(flag: string, v: string): number {
  if (!/^[1-9][0-9]{0,12}$/.test(v)) throw new CliError(`--${flag}: "${v}" is not a positive integer`);
  return Number(v);
}

export function watchSettingsFrom(values: { 'max-watches-per-user'?: string; 'watch-buffer-bytes'?: string }): WatchSettings {
  return {
    bookmarkIntervalMs: defaultWatchSettings.bookmarkIntervalMs,
    maxWatchesPerUser: positiveInt('max-watches-per-user', values['max-watches-per-user'] ?? String(DEFAULT_WATCHES_PER_USER)),
    maxBufferedBytes: positiveInt('watch-buffer-bytes', values['watch-buffer-bytes'] ?? String(DEFAULT_WATCH_BUFFER_BYTES)),
  };
}

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
