/** What every handler of the Docker API front works with: the engine on the Berth API, the node, streams in flight. */
import type { ApiClient } from '../client/api-client.js';
import type { DockerEngine } from '../client/docker/engine.js';
import type { RemoteCommand } from '../client/docker/remote-command.js';
import type { RawConnection } from '../client/raw-request.js';

export interface ExecRecord {
  ID: string;
  /** Object name of the Container. */
  container: string;
  containerId: string;
  Cmd: string[];
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  Privileged: boolean;
  User: string;
  WorkingDir: string;
  Env: string[];
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  stream?: RemoteCommand;
  created: number;
}

export interface FrontContext {
  engine: DockerEngine;
  client: ApiClient;
  conn: RawConnection;
  namespace: string;
  nodeName: string;
  /** Exec instances by ID (docker exec create → start → inspect). */
  execs: Map<string, ExecRecord>;
  /** Open attach streams by Container object name, for resize. */
  attaches: Map<string, Set<RemoteCommand>>;
  log(msg: string): void;
}
