/**
 * A CNI invoker, shaped after libcni (containernetworking/cni libcni/api.go), for the plugins of the
 * spec 1.0.0: a configuration list is ADDed plugin by plugin, each getting the previous plugin's
 * result as `prevResult`; the final result is cached on disk with the configuration and runtime
 * arguments it was made with; CHECK gives every plugin the cached result; DEL runs the list in
 * reverse with the cached result and configuration, then drops the cache. Plugins get CNI_COMMAND,
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH, their config on stdin, only the
 * runtime capabilities they declare, a time limit, and bounded output; their errors (the spec's
 * {code, msg, details}) are surfaced with the plugin's name.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteJson, readDirOrEmpty } from '../util/fs.js';

export const CNI_VERSION = '1.0.0';

export type PluginConf = { type: string; capabilities?: Record<string, boolean> } & Record<string, unknown>;

export interface NetworkConfigList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface RuntimeConf {
  containerId: string;
  /** Path of the network namespace (a bind-mounted nsfs file). */
  netns: string;
  ifName: string;
  /** CNI_ARGS, as key=value pairs joined with ";". */
  args?: Array<[string, string]>;
  /** Capability arguments (portMappings, ...), given to the plugins that declare the capability. */
  capabilityArgs?: Record<string, unknown>;
}

const resultSchema = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z.array(z.looseObject({ name: z.string(), mac: z.string().optional(), sandbox: z.string().optional() })).optional(),
  ips: z.array(z.looseObject({ interface: z.number().int().optional(), address: z.string(), gateway: z.string().optional() })).optional(),
  routes: z.array(z.looseObject({ dst: z.string(), gw: z.string().optional() })).optional(),
  dns: z.looseObject({}).optional(),
});
export type CniResult = z.infer<typeof resultSchema>;

const cacheSchema = z.object({
  kind: z.literal('berthCniCacheV1'),
  containerId: z.string(),
  networkName: z.string(),
  ifName: z.string(),
  netns: z.string(),
  config: z.custom<NetworkConfigList>((v) => typeof v === 'object' && v !== null && Array.isArray((v as NetworkConfigList).plugins)),
  cniArgs: z.array(z.tuple([z.string(), z.string()])).optional(),
  capabilityArgs: z.record(z.string(), z.unknown()).optional(),
  result: resultSchema,
});
export type CachedAttachment = z.infer<typeof cacheSchema>;

/** A plugin failed: the spec's error code, message and details, with the plugin and the command. */
export class CniPluginError extends Error {
  constructor(
    readonly plugin: string,
    readonly command: string,
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(`plugin type="${plugin}" failed (${command.toLowerCase()}): ${msg}${details ? `: ${details}` : ''}`);
    this.name = 'CniPluginError';
  }
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_STDOUT = 1 << 20;
const MAX_STDERR = 64 << 10;

export interface CniInvokerOptions {
  /** Directories searched for plugin binaries (CNI_PATH). */
  pluginDirs: string[];
  /** Where results are cached (<cacheDir>/results). */
  cacheDir: string;
  /** A plugin still running after this is killed (default 30 s). */
  timeoutMs?: number;
}

export class CniInvoker {
  private readonly timeoutMs: number;
  private readonly found = new Map<string, string>();

  constructor(private readonly o: CniInvokerOptions) {
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** ADD of every plugin in order, each with the previous result; the last result is cached and returned. */
  async addList(list: NetworkConfigList, rt: RuntimeConf): Promise<CniResult> {
    validate(list, rt);
    let result: CniResult | undefined;
    for (const plugin of list.plugins) result = await this.exec('ADD', list, plugin, result, rt);
    const final = result ?? {};
    await this.cacheAdd(list, rt, final);
    return final;
  }

  /** CHECK of every plugin with the cached result (the spec's 0.4.0+ CHECK); throws what the first failing plugin says. */
  async checkList(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    validate(list, rt);
    if (list.disableCheck) return;
    const cached = await this.cached(list.name, rt);
    if (!cached) throw new CniPluginError(list.plugins[0]?.type ?? '?', 'CHECK', 999, `no cached result for network "${list.name}", container ${rt.containerId}, interface ${rt.ifName}`);
    for (const plugin of list.plugins) await this.exec('CHECK', list, plugin, cached.result, rt);
  }

  /**
   * DEL in reverse order with the cached result as prevResult, using the configuration and arguments
   * the ADD was made with when they are cached (libcni's GetNetworkListCachedConfig); the cache entry
   * goes last. DEL of something absent succeeds, as the spec demands of plugins.
   */
  async delList(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    validate(list, rt);
    const cached = await this.cached(list.name, rt).catch(() => undefined);
    const useList = cached?.config ?? list;
    const useRt: RuntimeConf = cached ? { ...rt, ...(cached.cniArgs ? { args: cached.cniArgs } : {}), ...(cached.capabilityArgs ? { capabilityArgs: cached.capabilityArgs } : {}) } : rt;
    for (const plugin of [...useList.plugins].reverse()) await this.exec('DEL', useList, plugin, cached?.result, useRt);
    await rm(this.cachePath(list.name, rt), { force: true });
  }

  /** The cached ADD of one attachment, or undefined. */
  async cached(networkName: string, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): Promise<CachedAttachment | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.cachePath(networkName, rt), 'utf8');
    } catch {
      return undefined;
    }
    return cacheSchema.parse(JSON.parse(raw));
  }

  /** Every cached attachment, or those of one container (libcni's GetCachedAttachments); unreadable entries are skipped. */
  async cachedAttachments(containerId?: string): Promise<CachedAttachment[]> {
    const dir = join(this.o.cacheDir, 'results');
    const out: CachedAttachment[] = [];
    for (const f of (await readDirOrEmpty(dir)).sort()) {
      if (containerId && !f.includes(`-${containerId}-`)) continue;
      try {
        const c = cacheSchema.parse(JSON.parse(await readFile(join(dir, f), 'utf8')));
        if (!containerId || c.containerId === containerId) out.push(c);
      } catch {
        // a torn or foreign file: not an attachment
      }
    }
    return out;
  }

  /** The plugin's VERSION answer: which spec versions it speaks. */
  async version(pluginType: string): Promise<{ cniVersion: string; supportedVersions: string[] }> {
    const path = await this.find(pluginType);
    const out = await this.run(path, pluginType, 'VERSION', JSON.stringify({ cniVersion: CNI_VERSION }), { CNI_COMMAND: 'VERSION' });
    return JSON.parse(out) as { cniVersion: string; supportedVersions: string[] };
  }

  private cachePath(networkName: string, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): string {
    return join(this.o.cacheDir, 'results', `${networkName}-${rt.containerId}-${rt.ifName}`);
  }

  private async cacheAdd(list: NetworkConfigList, rt: RuntimeConf, result: CniResult): Promise<void> {
    const entry: CachedAttachment = {
      kind: 'berthCniCacheV1',
      containerId: rt.containerId,
      networkName: list.name,
      ifName: rt.ifName,
      netns: rt.netns,
      config: list,
      ...(rt.args ? { cniArgs: rt.args } : {}),
      ...(rt.capabilityArgs ? { capabilityArgs: rt.capabilityArgs } : {}),
      result,
    };
    await atomicWriteJson(this.cachePath(list.name, rt), entry);
  }

  private async exec(command: 'ADD' | 'CHECK' | 'DEL', list: NetworkConfigList, plugin: PluginConf, prevResult: CniResult | undefined, rt: RuntimeConf): Promise<CniResult | undefined> {
    const path = await this.find(plugin.type);
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    if (prevResult) conf.prevResult = prevResult;
    // only the capabilities the plugin declares reach it (libcni's injectRuntimeConfig)
    const rc: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) if (on && rt.capabilityArgs && cap in rt.capabilityArgs) rc[cap] = rt.capabilityArgs[cap];
    if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
    const env = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: (rt.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: this.o.pluginDirs.join(':'),
    };
    const out = await this.run(path, plugin.type, command, JSON.stringify(conf), env);
    if (command !== 'ADD') return undefined;
    try {
      return resultSchema.parse(JSON.parse(out));
    } catch (e) {
      throw new CniPluginError(plugin.type, command, 999, `unreadable result: ${(e as Error).message}`);
    }
  }

  private async find(type: string): Promise<string> {
    const known = this.found.get(type);
    if (known) return known;
    if (!NAME_RE.test(type)) throw new CniPluginError(type, 'FIND', 999, 'invalid plugin type');
    for (const dir of this.o.pluginDirs) {
      const p = join(dir, type);
      try {
        await access(p, constants.X_OK);
        this.found.set(type, p);
        return p;
      } catch {
        // not in this directory
      }
    }
    throw new CniPluginError(type, 'FIND', 999, `plugin not found in ${this.o.pluginDirs.join(', ')}`);
  }

  /** Runs one plugin: config on stdin, bounded output, killed after the time limit; "text file busy" is retried (as libcni's RawExec). */
  private async run(path: string, type: string, command: string, stdin: string, cniEnv: Record<string, string>): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(path, type, command, stdin, cniEnv);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < 5) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        throw e;
      }
    }
  }

  private runOnce(path: string, type: string, command: string, stdin: string, cniEnv: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
      // the plugins need PATH (they run iptables, ip); nothing else of this process's environment reaches them
      const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...cniEnv };
      const child = spawn(path, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeoutMs);
      child.stdout.on('data', (d: Buffer) => {
        outBytes += d.length;
        if (outBytes <= MAX_STDOUT) out.push(d);
        else child.kill('SIGKILL');
      });
      child.stderr.on('data', (d: Buffer) => {
        if (errBytes < MAX_STDERR) err.push(d.subarray(0, MAX_STDERR - errBytes));
        errBytes += d.length;
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (timedOut) return reject(new CniPluginError(type, command, 999, `timed out after ${this.timeoutMs} ms`));
        if (outBytes > MAX_STDOUT) return reject(new CniPluginError(type, command, 999, `output larger than ${MAX_STDOUT} bytes`));
        if (code === 0) return resolve(stdout);
        reject(pluginError(type, command, code, stdout, stderr));
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    });
  }
}

/** The spec's error object on stdout, else stderr, else the exit code (libcni's pluginErr). */
function pluginError(type: string, command: string, exit: number | null, stdout: string, stderr: string): CniPluginError {
  if (stdout.trim()) {
    try {
      const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
      return new CniPluginError(type, command, Number(e.code ?? 999), String(e.msg ?? 'no message'), e.details ? String(e.details) : undefined);
    } catch {
      return new CniPluginError(type, command, 999, `error parsing its diagnostic message ${JSON.stringify(stdout.slice(0, 500))}`);
    }
  }
  return new CniPluginError(type, command, 999, stderr ? `${stderr} (exit ${exit})` : `failed with no error message (exit ${exit})`);
}

/** libcni's ValidateContainerID, ValidateNetworkName and ValidateInterfaceName. */
function validate(list: NetworkConfigList, rt: RuntimeConf): void {
  if (!NAME_RE.test(rt.containerId)) throw new CniPluginError('-', 'VALIDATE', 999, `invalid container ID ${JSON.stringify(rt.containerId)}`);
  if (!NAME_RE.test(list.name)) throw new CniPluginError('-', 'VALIDATE', 999, `invalid network name ${JSON.stringify(list.name)}`);
  const i = rt.ifName;
  if (!i || i.length > 15 || i === '.' || i === '..' || /[/:\s]/.test(i)) throw new CniPluginError('-', 'VALIDATE', 999, `invalid interface name ${JSON.stringify(i)}`);
}
