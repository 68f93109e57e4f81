/** Parses Dockerfile instructions given as import changes (docker import --change) into config changes. */
import type { ConfigChanges } from '../runtime/images/schema.js';

function words(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    const v: unknown = JSON.parse(t);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('expected a JSON array of strings');
    return v;
  }
  return ['/bin/sh', '-c', t];
}

function pairs(rest: string): [string, string][] {
  const t = rest.trim();
  if (!t.includes('=')) {
    const sp = t.search(/\s/);
    return sp < 0 ? [[t, '']] : [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  return (t.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1).replace(/^"|"$/g, '')];
  });
}

export function parseChanges(lines: string[] | undefined): ConfigChanges | undefined {
  if (!lines?.length) return undefined;
  const out: ConfigChanges = {};
  for (const [i, line] of lines.entries()) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`spec.source.import.changes[${i}]: expected "INSTRUCTION arguments"`);
    const op = (m[1] ?? '').toUpperCase();
    const rest = m[2] ?? '';
    try {
      switch (op) {
        case 'CMD': out.Cmd = words(rest); break;
        case 'ENTRYPOINT': out.Entrypoint = words(rest); break;
        case 'ENV': out.Env = [...(out.Env ?? []), ...pairs(rest).map(([k, v]) => `${k}=${v}`)]; break;
        case 'LABEL': out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(pairs(rest)) }; break;
        case 'WORKDIR': out.WorkingDir = rest.trim(); break;
        case 'USER': out.User = rest.trim(); break;
        case 'STOPSIGNAL': out.StopSignal = rest.trim(); break;
        case 'EXPOSE': out.ExposedPorts = [...(out.ExposedPorts ?? []), ...rest.trim().split(/\s+/).map((p) => (p.includes('/') ? p : `${p}/tcp`))]; break;
        case 'VOLUME': out.Volumes = [...(out.Volumes ?? []), ...(rest.trim().startsWith('[') ? (JSON.parse(rest) as string[]) : rest.trim().split(/\s+/))]; break;
        default: throw new Error(`${op} cannot be applied to an import`);
      }
    } catch (e) {
      throw new Error(`spec.source.import.changes[${i}]: ${(e as Error).message}`);
    }
  }
  return out;
}
