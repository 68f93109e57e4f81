/** The shared Docker mapping (src/client/docker): flags → ContainerCreate → Container, names, views, templates, filters, events. */
import { describe, expect, it } from 'vitest';
import type { KObject } from '../../../src/client/api-client.js';
import { parseCreateBody } from '../../../src/client/docker/create-body.js';
import { runtimeMessage, startFailureCode } from '../../../src/client/docker/engine.js';
import { filterContainers, parseFilterFlags, parseFiltersJson } from '../../../src/client/docker/filters.js';
import { checkDockerName, dockerIdOf, dockerLabelsOf, dockerMetadata, dockerNameOf, DockerError, fitsKubernetesLabel, objectNameFor } from '../../../src/client/docker/names.js';
import { createBodyFromFlags, parsePublish, ramInBytes } from '../../../src/client/docker/run-flags.js';
import { eventLine, eventMatches, EventTranslator } from '../../../src/client/docker/system.js';
import { compileTemplate, formatList, TemplateError } from '../../../src/client/docker/template.js';
import { planContainer } from '../../../src/client/docker/to-container.js';
import { containerInspect, dockerState, networkSettings, statusText } from '../../../src/client/docker/views.js';
import { networksOf } from '../../../src/client/docker/networks.js';
import { splitAtImage, runFlags } from '../../../src/cli/docker/run-spec.js';

const plan = (image: string, cmd: string[], f: Parameters<typeof createBodyFromFlags>[2], name = 'web') =>
  planContainer(parseCreateBody(createBodyFromFlags(image, cmd, f, { HOME: '/root', FROM_ENV: 'yes' })), { dockerName: name, createdBy: 'cli', nodeName: 'n1' });

const err = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DockerError);
    return (e as Error).message;
  }
  throw new Error('no error thrown');
};

describe('docker run flags → Container', () => {
  it('maps the common flags onto the Container spec, with the created-by label', () => {
    const p = plan('busybox', ['httpd', '-f'], {
      env: ['A=1', 'FROM_ENV', 'MISSING'],
      envFileLines: ['# comment', 'B=2', ''],
      workdir: '/www',
      user: '1000:50',
      hostname: 'box',
      restart: 'on-failure:3',
      memory: '64m',
      cpus: '0.5',
      pidsLimit: '100',
      readOnly: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      entrypoint: '/bin/sh',
      label: ['app=web', 'com.example.long/path=a/b/c'],
      stopSignal: 'SIGINT',
      stopTimeout: '3',
      interactive: true,
      tty: true,
      attachStdin: true,
      volume: ['data:/data:ro', '/srv:/srv', '/anon'],
      volumesFrom: ['other:ro'],
    });
    const spec = p.container.spec as Record<string, unknown>;
    expect(spec).toMatchObject({
      image: 'busybox',
      command: ['/bin/sh'],
      args: ['httpd', '-f'],
      env: [
        { name: 'B', value: '2' },
        { name: 'A', value: '1' },
        { name: 'FROM_ENV', value: 'yes' },
      ],
      workingDir: '/www',
      user: '1000:50',
      hostname: 'box',
      tty: true,
      stdin: true,
      stdinOnce: true,
      restartPolicy: 'OnFailure',
      resources: { limits: { memory: String(64 * 1024 * 1024), cpu: '500m', pids: '100' } },
      readOnlyRootFilesystem: true,
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      stopSignal: 'SIGINT',
      stopGracePeriodSeconds: 3,
      state: 'Stopped',
      network: 'bridge',
      nodeName: 'n1',
      volumesFrom: ['other:ro'],
    });
    const mounts = spec.volumeMounts as { name?: string; hostPath?: string; mountPath: string; readOnly?: boolean }[];
    expect(mounts[0]).toEqual({ name: 'data', mountPath: '/data', readOnly: true });
    expect(mounts[1]).toEqual({ hostPath: '/srv', mountPath: '/srv' });
    expect(mounts[2]!.name).toMatch(/^anon-[0-9a-f]{12}$/);
    expect(p.volumes.map((v) => [v.object.metadata.name, v.anonymous])).toEqual([
      ['data', false],
      [mounts[2]!.name, true],
    ]);
    expect(p.container.metadata.labels).toEqual({ 'berth.dev/created-by': 'cli', app: 'web' });
    // a label Kubernetes labels cannot hold is kept whole in an annotation
    expect(dockerLabelsOf(p.container)).toEqual({ app: 'web', 'com.example.long/path': 'a/b/c' });
  });

  it("keeps Docker's names that are not object names, and gives IDs from the uid", () => {
    expect(objectNameFor('web')).toBe('web');
    const odd = objectNameFor('Proj_web_1');
    expect(odd).toMatch(/^proj-web-1-[0-9a-f]{6}$/);
    expect(objectNameFor('proj_web_1')).not.toBe(odd);
    const p = plan('busybox', [], {}, 'Proj_web_1');
    expect(p.container.metadata.name).toBe(odd);
    expect(dockerNameOf(p.container)).toBe('Proj_web_1');
    const obj: KObject = { metadata: { name: 'x', uid: 'u-1' } };
    expect(dockerIdOf(obj)).toMatch(/^[0-9a-f]{64}$/);
    expect(dockerIdOf(obj)).toBe(dockerIdOf({ metadata: { name: 'y', uid: 'u-1' } }));
  });

  it("refuses bad input with Docker's messages", () => {
    expect(err(() => checkDockerName('bad name!', 'container'))).toBe('Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
    expect(err(() => parsePublish('abc'))).toBe('invalid containerPort: abc');
    expect(err(() => parsePublish('99999:80'))).toBe('invalid hostPort: 99999');
    expect(err(() => parsePublish('80/xyz'))).toBe('invalid proto: xyz');
    expect(err(() => plan('busybox', [], { restart: 'sometimes' }))).toMatch(/invalid restart policy: unknown policy 'sometimes'/);
    expect(err(() => plan('busybox', [], { restart: 'always', rm: true }))).toBe('Conflicting options: --restart and --rm');
    expect(err(() => plan('busybox', [], { memory: '1m' }))).toBe('Minimum memory limit allowed is 6MB');
    expect(err(() => plan('busybox', [], { volume: ['data'] }))).toMatch(/invalid volume specification: 'data'/);
    expect(err(() => plan('busybox', [], { volume: ['data:relative'] }))).toMatch(/mount path must be absolute/);
    expect(err(() => plan('busybox', [], { network: 'bad net' }))).toBe('Invalid network name (bad net), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
    expect(err(() => plan('busybox', [], { ip: '10.1.0.5' }))).toMatch(/^user specified IP address is supported on user defined networks only/);
    expect(err(() => plan('busybox', [], { network: 'bridge', networkAliases: ['a'] }))).toMatch(/^network-scoped alias is supported only for containers in user defined networks/);
    expect(err(() => plan('busybox', [], { network: 'none', publish: ['8080:80'] }))).toMatch(/^conflicting options: port publishing and the container type network mode/);
    expect(err(() => plan('busybox', [], { network: 'container:web', publish: ['8080:80'] }))).toMatch(/^conflicting options: port publishing/);
    expect(err(() => plan('busybox', [], { securityOpt: ['apparmor=unconfined'] }))).toMatch(/security-opt apparmor=unconfined is not supported by Berth/);
    expect(err(() => plan('busybox', [], { securityOpt: ['seccomp=/tmp/p.json'] }))).toMatch(/not a profile file/);
    expect(err(() => plan('busybox', [], { workdir: 'rel' }))).toMatch(/it needs to be an absolute path/);
    expect(err(() => plan('busybox', [], { mount: ['type=tmpfs,target=/t'] }))).toMatch(/mount type "tmpfs" is not supported/);
    expect(() => parseCreateBody({ Image: 5 })).toThrow(/Image/);
    expect(ramInBytes('1g')).toBe(1024 ** 3);
  });

  it('publishes ports on the bridge network: -p HOST:CTR, -p CTR and -P on a port the node picks; host discards them', () => {
    const p = plan('busybox', [], { publish: ['127.0.0.1:8080:80/tcp', '53:53/udp', '9000'] });
    expect((p.container.spec as { ports: unknown }).ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8080, hostIP: '127.0.0.1' },
      { containerPort: 53, protocol: 'UDP', hostPort: 53 },
      { containerPort: 9000, protocol: 'TCP', hostPort: 0 },
    ]);
    expect((p.container.spec as { network: string }).network).toBe('bridge');
    const all = plan('busybox', [], { publishAll: true, expose: ['7000', '7001/udp'], publish: ['8080:80'] }).container.spec as { ports: unknown };
    expect(all.ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8080 },
      { containerPort: 7000, protocol: 'TCP', hostPort: 0 },
      { containerPort: 7001, protocol: 'UDP', hostPort: 0 },
    ]);
    const host = plan('busybox', [], { network: 'host', publish: ['8080:80'] }).container.spec as { network: string; ports?: unknown };
    expect([host.network, host.ports]).toEqual(['host', undefined]);
  });

  it('publishes and exposes port ranges as docker does: one port each, host and container ranges of one length', () => {
    const p = plan('busybox', [], { publish: ['127.0.0.1:8000-8002:80-82', '9000-9001/udp'], expose: ['7000-7001'], publishAll: true });
    expect((p.container.spec as { ports: unknown }).ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8000, hostIP: '127.0.0.1' },
      { containerPort: 81, protocol: 'TCP', hostPort: 8001, hostIP: '127.0.0.1' },
      { containerPort: 82, protocol: 'TCP', hostPort: 8002, hostIP: '127.0.0.1' },
      { containerPort: 9000, protocol: 'UDP', hostPort: 0 },
      { containerPort: 9001, protocol: 'UDP', hostPort: 0 },
      { containerPort: 7000, protocol: 'TCP', hostPort: 0 },
      { containerPort: 7001, protocol: 'TCP', hostPort: 0 },
    ]);
    expect(parsePublish('8080:80')).toEqual([{ key: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
    expect(err(() => parsePublish('8000-8001:80-82'))).toBe('invalid ranges specified for container and host Ports: 80-82 and 8000-8001');
    expect(err(() => parsePublish('8000-8002:80'))).toMatch(/^invalid port range in 8000-8002:80: a host port range for one container port is not supported by Berth/);
    expect(err(() => parsePublish('82-80'))).toBe('invalid containerPort: 82-80');
    expect(err(() => parsePublish('1-5000'))).toBe('invalid port range in 1-5000: 5000 ports, Berth publishes at most 1000 per range');
    expect(err(() => plan('busybox', [], { expose: ['70-x'] }))).toBe('invalid range format for --expose specification: "70-x"');
    // the API's HostPort "0" (Testcontainers') and "" are a port the node picks; a key without a protocol is TCP
    const api = planContainer(parseCreateBody({ Image: 'busybox', ExposedPorts: { '8080': {} }, HostConfig: { PortBindings: { '8080': [{ HostPort: '0' }], '53/udp': [{ HostPort: '' }] } } }), { dockerName: 'tc', createdBy: 'docker-api' });
    expect((api.container.spec as { ports: unknown }).ports).toEqual([
      { containerPort: 8080, protocol: 'TCP', hostPort: 0 },
      { containerPort: 53, protocol: 'UDP', hostPort: 0 },
    ]);
  });

  it('maps --network NAME, --network-alias, --ip and container:NAME onto spec.network(s), naming the Docker networks to resolve', () => {
    const p = plan('busybox', [], { network: 'proj_front', networkAliases: ['api', 'Not_A_Label'], ip: '10.251.7.9' });
    const spec = p.container.spec as { network: string; networks: unknown };
    expect(spec.network).toBe('bridge');
    expect(spec.networks).toEqual([{ name: objectNameFor('proj_front'), aliases: ['api'], ipv4Address: '10.251.7.9' }]);
    expect(p.networkRefs).toEqual(['proj_front']);
    // the API front: NetworkMode and more endpoints (docker-compose gives the service name as an alias)
    const body = parseCreateBody({ Image: 'busybox', HostConfig: { NetworkMode: 'back' }, NetworkingConfig: { EndpointsConfig: { back: { Aliases: ['db'] }, front: null } } });
    const q = planContainer(body, { dockerName: 'xy', createdBy: 'docker-api' });
    expect([(q.container.spec as { networks: unknown }).networks, q.networkRefs]).toEqual([[{ name: 'back', aliases: ['db'] }, { name: 'front' }], ['back', 'front']]);
    expect((plan('busybox', [], { network: 'container:Web_1' }).container.spec as { network: string }).network).toBe(`container:${objectNameFor('Web_1')}`);
    expect((plan('busybox', [], { network: 'none' }).container.spec as { network: string }).network).toBe('none');
  });

  it("shows networks and ports as docker inspect does, from what the node reports", () => {
    const c: KObject = {
      metadata: { name: 'web', uid: 'u-9' },
      spec: { image: 'busybox', network: 'bridge', networks: [{ name: 'proj-back-1a2b3c', aliases: ['api'] }], ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 0 }] },
      status: { phase: 'Running', ip: '10.251.3.5', networks: [{ name: 'proj-back-1a2b3c', ipAddress: '10.251.3.5', prefixLength: 24, gateway: '10.251.3.1', macAddress: 'aa:bb' }], ports: [{ containerPort: 80, protocol: 'TCP', hostIP: '0.0.0.0', hostPort: 32768 }] },
    };
    const ns = networkSettings(c, { networks: { 'proj-back-1a2b3c': ['proj_back', 'f'.repeat(64)] } });
    expect(ns.Ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }] });
    expect(ns).toMatchObject({ IPAddress: '10.251.3.5', IPPrefixLen: 24, Gateway: '10.251.3.1' });
    expect(ns.Networks).toEqual({
      proj_back: expect.objectContaining({ IPAddress: '10.251.3.5', NetworkID: 'f'.repeat(64), Aliases: ['api', dockerIdOf(c).slice(0, 12)], DNSNames: ['web', 'api'] }),
    });
    expect(networksOf(c)).toEqual(['proj-back-1a2b3c']);
    // the default network is "bridge"; a stopped container shows the port asked for, unpublished when the node picks it
    const d: KObject = { metadata: { name: 'd', uid: 'u-1' }, spec: { image: 'busybox', ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 0 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353 }] } };
    const dn = networkSettings(d);
    expect([Object.keys(dn.Networks as object), dn.Ports]).toEqual([['bridge'], { '80/tcp': null, '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }] }]);
    expect(networksOf({ metadata: { name: 'h' }, spec: { image: 'x', network: 'host' } })).toEqual(['host']);
  });

  it('splits berth run at the image: what follows is the command, flags included', () => {
    expect(splitAtImage(['--rm', '-e', 'A=1', 'busybox', 'sh', '-c', 'exit 3'], runFlags)).toEqual({ ours: ['--rm', '-e', 'A=1'], image: 'busybox', command: ['sh', '-c', 'exit 3'] });
    expect(splitAtImage(['-it', '--name=x', '-p', '80:80', 'img'], runFlags)).toEqual({ ours: ['-it', '--name=x', '-p', '80:80'], image: 'img', command: [] });
    expect(splitAtImage(['-dp', '80:80', 'img', 'ls', '-l'], runFlags)).toEqual({ ours: ['-dp', '80:80'], image: 'img', command: ['ls', '-l'] });
  });

  it("maps runtime start failures to docker's 127 and 126", () => {
    const msg = 'container abc: runc create failed: time="x" level=error msg="runc create failed: unable to start container process: exec: \\"nosuch\\": executable file not found in $PATH"';
    expect(runtimeMessage(msg)).toBe('failed to create task for container: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH: unknown');
    expect(startFailureCode(runtimeMessage(msg)!)).toBe(127);
    expect(startFailureCode('exec: "/etc": permission denied')).toBe(126);
    expect(startFailureCode('something else')).toBe(125);
  });
});

const ctr = (name: string, status: Record<string, unknown>, extra: Partial<KObject> = {}): KObject => ({
  apiVersion: 'berth.dev/v1alpha1',
  kind: 'Container',
  metadata: { name, uid: `uid-${name}`, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: name } },
  spec: { image: 'busybox', args: ['sleep', '9'], network: 'none' },
  status,
  ...extra,
});

describe('Docker views of Containers', () => {
  const now = Date.parse('2026-01-01T00:10:00Z');
  it("gives docker's states and status texts", () => {
    expect(dockerState(ctr('a', { phase: 'Running', startedAt: '2026-01-01T00:05:00Z' }))).toBe('running');
    expect(statusText(ctr('a', { phase: 'Running', startedAt: '2026-01-01T00:05:00Z' }), now)).toBe('Up 5 minutes');
    expect(statusText(ctr('b', { phase: 'Exited', exitCode: 3, finishedAt: '2026-01-01T00:09:00Z' }), now)).toBe('Exited (3) About a minute ago');
    expect(dockerState(ctr('c', { phase: 'Exited', reason: 'Stopped' }))).toBe('created');
    expect(dockerState(ctr('d', { phase: 'Paused', startedAt: '2026-01-01T00:00:00Z' }))).toBe('paused');
    expect(dockerState(ctr('e', { phase: 'Exited', reason: 'CrashLoopBackOff', finishedAt: '2026-01-01T00:00:00Z' }))).toBe('restarting');
  });

  it('inspects a container as docker does, the image filling what the spec leaves out', () => {
    const doc = containerInspect(ctr('web', { phase: 'Running', pid: 42, startedAt: '2026-01-01T00:01:00Z', imageID: 'sha256:abc' }), { image: { Env: ['PATH=/bin'], Entrypoint: null, Cmd: ['sh'] } });
    expect(doc).toMatchObject({ Name: '/web', Path: 'sleep', Args: ['9'], Image: 'sha256:abc', State: { Status: 'running', Running: true, Pid: 42 }, Config: { Cmd: ['sleep', '9'], Env: ['PATH=/bin'], Labels: { app: 'web' } } });
  });
});

describe('templates', () => {
  const doc = { State: { Status: 'running', Running: true }, Config: { Cmd: ['sleep', '9'], Labels: { 'com.x/y': 'z' } }, Name: '/web', Ports: [], Names: ['a', 'b'] };
  it('renders field paths, json, index, join, upper, if/else, range and pipes', () => {
    expect(compileTemplate('{{.State.Status}}')(doc)).toBe('running');
    expect(compileTemplate('{{json .Config.Cmd}}')(doc)).toBe('["sleep","9"]');
    expect(compileTemplate('{{index .Config.Labels "com.x/y"}}')(doc)).toBe('z');
    expect(compileTemplate('{{join .Names ","}}')(doc)).toBe('a,b');
    expect(compileTemplate('{{.Name | upper}}')(doc)).toBe('/WEB');
    expect(compileTemplate('{{if .State.Running}}up{{else}}down{{end}}')(doc)).toBe('up');
    expect(compileTemplate('{{range .Names}}[{{.}}]{{end}}')(doc)).toBe('[a][b]');
    expect(compileTemplate('{{- .Name -}}  x')(doc)).toBe('/webx');
    expect(compileTemplate('{{printf "%s:%d" .Name 3}}')(doc)).toBe('/web:3');
    expect(compileTemplate('{{.Missing}}')(doc)).toBe('<no value>');
    expect(formatList('table {{.Name}}\t{{.State.Status}}', [doc])).toBe('NAME   STATUS\n/web   running\n');
  });
  it('refuses unknown functions and unclosed blocks by name', () => {
    expect(() => compileTemplate('{{nosuch .X}}')(doc)).toThrow(TemplateError);
    expect(() => compileTemplate('{{nosuch .X}}')(doc)).toThrow(/function "nosuch" not defined/);
    expect(() => compileTemplate('{{if .X}}')).toThrow(/missing \{\{end\}\}/);
  });
});

describe('filters and events', () => {
  const items = [ctr('web', { phase: 'Running', startedAt: '2026-01-01T00:00:00Z' }), ctr('job', { phase: 'Exited', exitCode: 2, finishedAt: '2026-01-01T00:01:00Z' })];
  it("parses docker's filter forms and filters containers", () => {
    expect(parseFiltersJson('{"label":{"a=b":true},"status":["running"]}')).toEqual({ label: ['a=b'], status: ['running'] });
    expect(parseFilterFlags(['status=exited', 'name=job'])).toEqual({ status: ['exited'], name: ['job'] });
    expect(filterContainers(items, { status: ['exited'] }).map((c) => c.metadata.name)).toEqual(['job']);
    expect(filterContainers(items, { exited: ['2'] }).map((c) => c.metadata.name)).toEqual(['job']);
    expect(filterContainers(items, { label: ['app=web'] }).map((c) => c.metadata.name)).toEqual(['web']);
    // several labels must all match (compose filters by project and service at once)
    expect(filterContainers(items, { label: ['app=web', 'app'] }).map((c) => c.metadata.name)).toEqual(['web']);
    expect(filterContainers(items, { label: ['app=web', 'app=job'] }).map((c) => c.metadata.name)).toEqual([]);
    expect(filterContainers(items, { status: ['running', 'exited'] }).map((c) => c.metadata.name)).toEqual(['web', 'job']);
    expect(() => filterContainers(items, { bogus: ['1'] })).toThrow("invalid filter 'bogus'");
    expect(() => parseFilterFlags(['novalue'])).toThrow(/expected name=value/);
  });
  it('turns object changes into docker events', () => {
    const tr = new EventTranslator();
    const created = ctr('w', {});
    expect(tr.change('ADDED', created).map((e) => e.Action)).toEqual(['create']);
    expect(tr.change('MODIFIED', ctr('w', { phase: 'Running', startedAt: '2026-01-01T00:00:01Z' })).map((e) => e.Action)).toEqual(['start']);
    const die = tr.change('MODIFIED', ctr('w', { phase: 'Exited', exitCode: 3, startedAt: '2026-01-01T00:00:01Z', finishedAt: '2026-01-01T00:00:02Z' }));
    expect(die.map((e) => [e.Action, e.Actor.Attributes.exitCode])).toEqual([['die', '3']]);
    expect(eventLine(die[0]!)).toMatch(/^2026-01-01T00:00:02.000000000Z container die [0-9a-f]{64} \(app=w, exitCode=3, image=busybox, name=w\)$/);
    expect(eventMatches(die[0]!, { event: ['die'], container: ['w'] })).toBe(true);
    expect(eventMatches(die[0]!, { event: ['start'] })).toBe(false);
    expect(tr.change('DELETED', created).map((e) => e.Action)).toEqual(['destroy']);
  });
  it('keeps labels that do not fit Kubernetes in an annotation', () => {
    expect(fitsKubernetesLabel('com.docker.compose.project', 'demo')).toBe(true);
    expect(fitsKubernetesLabel('com.docker.compose.config-hash', 'a'.repeat(64))).toBe(false);
    const md = dockerMetadata({ name: 'x', createdBy: 'docker-api', labels: { ok: 'yes', 'com.docker.compose.project.working_dir': '/home/u/p' } });
    expect(md.labels).toEqual({ 'berth.dev/created-by': 'docker-api', ok: 'yes' });
    expect(JSON.parse(md.annotations!['berth.dev/docker-labels']!)).toEqual({ 'com.docker.compose.project.working_dir': '/home/u/p' });
  });
});

describe('base images of a Dockerfile', () => {
  it('lists FROM images, less scratch and earlier stages, with ARGs before the first FROM', async () => {
    const { baseImages } = await import('../../../src/client/docker/base-images.js');
    const df = 'ARG BASE=alpine:3\nARG V\nFROM ${BASE} AS build\nRUN make\nFROM scratch\nCOPY --from=build /x /x\nFROM build AS again\nFROM --platform=linux/amd64 busybox:${V:-1.36}\n';
    expect(baseImages(df)).toEqual(['alpine:3', 'busybox:1.36']);
    expect(baseImages(df, { BASE: 'debian:12', V: '1.37' })).toEqual(['debian:12', 'busybox:1.37']);
  });
});

describe('docker run security flags → Container', () => {
  it('--privileged, --security-opt seccomp=unconfined and --cap-add/--cap-drop reach the spec (admission judges them)', () => {
    const spec = (f: Parameters<typeof createBodyFromFlags>[2]) => plan('busybox', [], f).container.spec as Record<string, unknown>;
    expect(spec({ privileged: true }).privileged).toBe(true);
    expect(spec({ securityOpt: ['seccomp=unconfined', 'no-new-privileges'] }).seccompProfile).toBe('Unconfined');
    expect(spec({ securityOpt: ['seccomp:unconfined', 'seccomp=default'] }).seccompProfile).toBeUndefined();
    expect(spec({ capAdd: ['NET_ADMIN'], capDrop: ['ALL'] })).toMatchObject({ capAdd: ['NET_ADMIN'], capDrop: ['ALL'] });
    expect(spec({})).not.toHaveProperty('privileged');
    expect(splitAtImage(['--privileged', '--security-opt', 'seccomp=unconfined', 'busybox', 'true'], runFlags)).toEqual({ ours: ['--privileged', '--security-opt', 'seccomp=unconfined'], image: 'busybox', command: ['true'] });
  });
});
