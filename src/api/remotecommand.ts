/**
 * Kubernetes' remotecommand WebSocket protocol, which `kubectl exec` speaks to kubelets: every
 * binary message starts with a channel byte. The error channel ends the session with a metav1
 * Status (kubelet's exact shape: no kind, an exit code as a cause of reason ExitCode); v5 adds
 * the close channel, on which a client says it has no more stdin.
 */
import { z } from 'zod';

export const EXEC_SUBPROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
export type ExecSubprotocol = (typeof EXEC_SUBPROTOCOLS)[number];

export const CHANNEL = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;

/** remotecommand.TerminalSize: Go field names, no JSON tags. */
export const TerminalSizeSchema = z.object({
  Width: z.number().int().min(0).max(65535),
  Height: z.number().int().min(0).max(65535),
});
export type TerminalSizeMessage = z.infer<typeof TerminalSizeSchema>;

export const ExecStatusSchema = z.object({
  metadata: z.object({}).optional(),
  status: z.enum(['Success', 'Failure']),
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z.object({ causes: z.array(z.object({ reason: z.string().optional(), message: z.string().optional() })).optional() }).optional(),
  code: z.number().optional(),
});
export type ExecStatus = z.infer<typeof ExecStatusSchema>;

/** One message: the channel byte, then the data. */
export function frame(channel: number, data: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from([channel]), body]);
}

/** What kubelet writes on the error channel when the command exits with `code`. */
export function exitStatus(code: number): ExecStatus {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: exit status ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** What kubelet writes on the error channel when the command could not be run at all. */
export function errorStatus(message: string): ExecStatus {
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: error executing command in container: ${message}`, reason: 'InternalError', code: 500 };
}

/** The exit code a status reports (Success: 0), or undefined when it reports an error instead. */
export function exitCodeOf(status: ExecStatus): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const code = Number(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message);
  return Number.isInteger(code) ? code : undefined;
}
