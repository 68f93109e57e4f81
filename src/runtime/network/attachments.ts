/**
 * Attachment records: what the network service set up for each container (its namespace, the
 * networks with their interfaces and addresses, the published ports), one JSON file per container
 * under <root>/network/attachments, written before the first plugin runs ('adding') and again when
 * every plugin succeeded ('ready'), so that a crash mid-ADD is undone by the sweep.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { atomicWriteJson, readDirOrEmpty, readJsonIfExists } from '../util/fs.js';

const PortMappingSchema = z.object({
  containerPort: z.number().int().min(1).max(65535),
  hostPort: z.number().int().min(0).max(65535),
  protocol: z.enum(['tcp', 'udp']),
  hostIP: z.string().optional(),
});

const AttachedNetworkSchema = z.object({
  name: z.string(),
  ifName: z.string(),
  aliases: z.array(z.string()),
  ipv4Address: z.string().optional(),
  ip: z.string().optional(),
  prefix: z.number().optional(),
  gateway: z.string().optional(),
  mac: z.string().optional(),
});

const AttachmentSchema = z.object({
  containerId: z.string(),
  netns: z.string(),
  /** adding: plugins may have run (a crash then leaves it to sweep); ready: every plugin succeeded. */
  state: z.enum(['adding', 'ready']),
  networks: z.array(AttachedNetworkSchema),
  ports: z.array(PortMappingSchema),
});
export type Attachment = z.infer<typeof AttachmentSchema>;

export class AttachmentRecords {
  constructor(private readonly dir: string) {}

  private path(containerId: string): string {
    return join(this.dir, `${containerId}.json`);
  }

  /** The record of a container; undefined when there is none or it does not parse (a torn write is swept). */
  async get(containerId: string): Promise<Attachment | undefined> {
    const raw = await readJsonIfExists(this.path(containerId)).catch(() => undefined);
    const p = AttachmentSchema.safeParse(raw);
    return p.success ? p.data : undefined;
  }

  async list(): Promise<Attachment[]> {
    const out: Attachment[] = [];
    for (const f of await readDirOrEmpty(this.dir)) {
      if (!f.endsWith('.json')) continue;
      const a = await this.get(f.slice(0, -5));
      if (a) out.push(a);
    }
    return out;
  }

  write(a: Attachment): Promise<void> {
    return atomicWriteJson(this.path(a.containerId), a);
  }

  async remove(containerId: string): Promise<void> {
    await rm(this.path(containerId), { force: true });
  }
}
