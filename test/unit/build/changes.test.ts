/** `--change` (docker import/commit -c): Dockerfile instructions, parsed by the build's parser, into config changes. */
import { describe, expect, it } from 'vitest';
import { parseConfigChanges } from '../../../src/runtime/build/changes.js';
import { applyConfigChanges } from '../../../src/runtime/images/schema.js';

describe('--change', () => {
  it('turns every supported instruction into config changes', () => {
    expect(
      parseConfigChanges([
        'CMD ["sh", "-c", "echo hi"]', 'ENV MODE=prod PATH=$PATH:/app', 'ENV LEGACY two words', 'EXPOSE 80 53/udp 8000-8001', 'USER app:staff',
        'WORKDIR /srv', 'WORKDIR sub', 'LABEL a=b "c d"="e f"', 'VOLUME ["/data", "/logs"]', 'VOLUME /cache', 'STOPSIGNAL SIGQUIT', 'ONBUILD RUN echo hi',
      ], { Env: ['PATH=/bin'] }),
    ).toEqual({
      Cmd: ['sh', '-c', 'echo hi'],
      Env: ['MODE=prod', 'PATH=/bin:/app', 'LEGACY=two words'],
      ExposedPorts: ['80/tcp', '53/udp', '8000/tcp', '8001/tcp'],
      User: 'app:staff',
      WorkingDir: '/srv/sub',
      Labels: { a: 'b', 'c d': 'e f' },
      Volumes: ['/data', '/logs', '/cache'],
      StopSignal: 'SIGQUIT',
      OnBuild: ['RUN echo hi'],
    });
  });

  it('exec and shell forms; the shell form through the image SHELL; ENTRYPOINT resets CMD unless CMD is changed too', () => {
    expect(parseConfigChanges(['ENTRYPOINT run.sh'])).toEqual({ Entrypoint: ['/bin/sh', '-c', 'run.sh'], Cmd: null });
    expect(parseConfigChanges(['CMD x', 'ENTRYPOINT ["e"]'])).toEqual({ Cmd: ['/bin/sh', '-c', 'x'], Entrypoint: ['e'] });
    expect(parseConfigChanges(['ENTRYPOINT ["e"]', 'CMD ["c"]'])).toEqual({ Entrypoint: ['e'], Cmd: ['c'] });
    expect(parseConfigChanges(['CMD echo "$HOME"'], { Shell: ['/bin/bash', '-ec'] })).toEqual({ Cmd: ['/bin/bash', '-ec', 'echo "$HOME"'] });
    expect(parseConfigChanges(['CMD []', 'ENTRYPOINT []'])).toEqual({ Cmd: [], Entrypoint: [] });
    // not a JSON array of strings: the shell form, as Docker falls back
    expect(parseConfigChanges(['CMD [1, 2]'])).toEqual({ Cmd: ['/bin/sh', '-c', '[1, 2]'] });
  });

  it('substitutes variables from the base config and earlier changes; WORKDIR is relative to the image', () => {
    expect(parseConfigChanges(['ENV DIR=/opt/app', 'WORKDIR $DIR/bin', 'USER ${WHO:-nobody}', 'LABEL home=$HOME'], { Env: ['HOME=/root'], WorkingDir: '/ignored' })).toEqual({
      Env: ['DIR=/opt/app'], WorkingDir: '/opt/app/bin', User: 'nobody', Labels: { home: '/root' },
    });
    expect(parseConfigChanges(['WORKDIR rel'], { WorkingDir: '/base' })).toEqual({ WorkingDir: '/base/rel' });
    expect(parseConfigChanges(['WORKDIR rel'])).toEqual({ WorkingDir: '/rel' });
  });

  it('applies on top of a config: Env by key, ports, volumes, labels and ONBUILD added to what is there', () => {
    const base = { Env: ['PATH=/bin', 'A=1'], ExposedPorts: { '22/tcp': {} }, Labels: { x: 'y' }, Cmd: ['old'], OnBuild: ['RUN a'] };
    expect(applyConfigChanges(base, parseConfigChanges(['ENV A=2', 'EXPOSE 80', 'LABEL z=w', 'ENTRYPOINT ["e"]', 'ONBUILD RUN b'], base))).toEqual({
      Env: ['PATH=/bin', 'A=2'], ExposedPorts: { '22/tcp': {}, '80/tcp': {} }, Labels: { x: 'y', z: 'w' }, Entrypoint: ['e'], Cmd: null, OnBuild: ['RUN a', 'RUN b'],
    });
  });

  it('refuses an unsupported or malformed change, naming the change and its instruction', () => {
    const refused: Array<[string, RegExp]> = [
      ['RUN rm -rf /', /^--change\[0\]:1: RUN: RUN is not a valid change command \(use one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL\)$/],
      ['COPY a /a', /^--change\[0\]:1: COPY: COPY is not a valid change command/],
      ['FROM scratch', /^--change\[0\]:1: FROM: FROM is not a valid change command/],
      ['SHELL ["/bin/bash", "-c"]', /^--change\[0\]:1: SHELL: SHELL is not a valid change command/],
      ['HEALTHCHECK CMD true', /^--change\[0\]:1: HEALTHCHECK: HEALTHCHECK is not a valid change command/],
      ['BOGUS x', /^--change\[0\]:1: unknown instruction: BOGUS$/],
      ['', /^--change\[0\]:1: empty change/],
      ['# only a comment', /^--change\[0\]:1: empty change/],
      ['CMD', /^--change\[0\]:1: CMD: CMD requires a command \(CMD \[\] clears it\)$/],
      ['ENTRYPOINT', /^--change\[0\]:1: ENTRYPOINT: ENTRYPOINT requires a command/],
      ['CMD --network=host x', /^--change\[0\]:1: CMD: unknown flag: --network$/],
      ['ENV', /^--change\[0\]:1: ENV: ENV requires at least one argument$/],
      ['ENV A', /^--change\[0\]:1: ENV: ENV needs a value/],
      ['ENV =x', /^--change\[0\]:1: ENV: ENV names can not be blank$/],
      ['LABEL "unterminated', /^--change\[0\]:1: LABEL: /],
      ['EXPOSE', /^--change\[0\]:1: EXPOSE: EXPOSE requires at least one argument$/],
      ['EXPOSE http', /^--change\[0\]:1: EXPOSE: invalid port "http"/],
      ['EXPOSE 80/icmp', /^--change\[0\]:1: EXPOSE: invalid protocol "icmp"/],
      ['VOLUME', /^--change\[0\]:1: VOLUME: VOLUME requires at least one argument$/],
      ['USER', /^--change\[0\]:1: USER: USER requires an argument$/],
      ['WORKDIR', /^--change\[0\]:1: WORKDIR: WORKDIR requires an argument$/],
      ['STOPSIGNAL', /^--change\[0\]:1: STOPSIGNAL: STOPSIGNAL requires a signal$/],
      ['STOPSIGNAL SIGNOPE', /^--change\[0\]:1: STOPSIGNAL: invalid signal "SIGNOPE"$/],
      ['USER ${X:?must be set}', /^--change\[0\]:1: USER: .*must be set/],
      ['ONBUILD', /^--change\[0\]:1: ONBUILD: ONBUILD requires an instruction$/],
      ['ONBUILD ONBUILD RUN x', /^--change\[0\]:1: ONBUILD: chaining ONBUILD/],
      ['ONBUILD FROM x', /^--change\[0\]:1: ONBUILD: FROM isn't allowed as an ONBUILD trigger$/],
      ['ONBUILD NOPE x', /unknown instruction: NOPE/],
    ];
    for (const [change, message] of refused) expect(() => parseConfigChanges([change]), change).toThrow(message);
    expect(() => parseConfigChanges(['CMD ["ok"]', 'ENV A=1', 'RUN x'])).toThrow(/^--change\[2\]:1: RUN: /);
    expect(() => parseConfigChanges(['RUN x'], {}, { label: 'spec.source.import.changes' })).toThrow(/^spec\.source\.import\.changes\[0\]:1: RUN: /);
  });
});
