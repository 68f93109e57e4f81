import { describe, expect, it } from 'vitest';
import { decodeProtobuf } from '../../../src/apiserver/protobuf.js';

function field(no: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([(no << 3) | 2, bytes.length]), bytes]);
}

describe('protobuf bodies from kubectl', () => {
  it('decodes a Namespace inside the k8s envelope', () => {
    const meta = Buffer.concat([field(1, 'team-a'), field(11, Buffer.concat([field(1, 'env'), field(2, 'dev')]))]);
    const ns = field(1, meta);
    const unknown = Buffer.concat([field(1, Buffer.concat([field(1, 'v1'), field(2, 'Namespace')])), field(2, ns)]);
    const body = Buffer.concat([Buffer.from('k8s\0', 'latin1'), unknown]);
    expect(decodeProtobuf(body)).toEqual({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { env: 'dev' } } });
  });

  it('refuses bodies without the envelope, truncated ones and kinds it cannot read', () => {
    expect(() => decodeProtobuf(Buffer.from('nope'))).toThrow(/envelope/);
    expect(() => decodeProtobuf(Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, 0x20, 0x01])]))).toThrow(/truncated/);
    const other = Buffer.concat([Buffer.from('k8s\0', 'latin1'), field(1, Buffer.concat([field(1, 'v1'), field(2, 'Pod')]))]);
    expect(() => decodeProtobuf(other)).toThrow(/send JSON/);
  });
});
