/**
 * Serving certificates: a private CA made on first start (kept in <data-dir>/tls) and a server
 * certificate it signs for every address the API can be reached on. Clients trust the CA through
 * the kubeconfig's certificate-authority-data, as with k3s.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { certificateCurrent } from '../util/certificates.js';
import { openssl } from '../util/openssl.js';
import { APISERVER_CLIENT_USER, type AgentTlsCredentials } from '../api/agent-tls.js';

export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Every name and address a client may use to reach this host. */
export function servingNames(listenHost: string): string[] {
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname()]);
  if (listenHost && listenHost !== '0.0.0.0' && listenHost !== '::') names.add(listenHost);
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) names.add(a.address);
  return [...names];
}

const isIp = (n: string): boolean => /^[\d.]+$/.test(n) || n.includes(':');

function covers(certPem: string, names: string[]): boolean {
  const cert = new X509Certificate(certPem);
  if (Date.parse(cert.validTo) - Date.now() < 30 * 24 * 3600_000) return false;
  const san = cert.subjectAltName ?? '';
  return names.every((n) => san.includes(isIp(n) ? `IP Address:${n}` : `DNS:${n}`));
}

/** Berth's CA (<data-dir>/tls/ca.{crt,key}), made on first use. */
export async function ensureCa(dataDir: string): Promise<void> {
  const dir = join(dataDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCrt = join(dir, 'ca.crt');
  if (!existsSync(caKey) || !existsSync(caCrt)) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${caKey}.new`, '-out', `${caCrt}.new`, '-days', '3650', '-subj', '/CN=berth-ca']);
    await writeFileAtomic(caKey, await readFile(`${caKey}.new`), 0o600);
    await writeFileAtomic(caCrt, await readFile(`${caCrt}.new`));
    for (const f of [`${caKey}.new`, `${caCrt}.new`]) await rm(f, { force: true });
  }
}

export async function ensureServingCerts(dataDir: string, names: string[]): Promise<ServingCerts> {
  const dir = join(dataDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCrt = join(dir, 'ca.crt');
  const key = join(dir, 'server.key');
  const crt = join(dir, 'server.crt');
  await ensureCa(dataDir);
  if (!existsSync(crt) || !existsSync(key) || !covers(await readFile(crt, 'utf8'), names)) {
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    const san = names.map((n) => (isIp(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    await writeFileAtomic(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${key}.new`, '-out', csr, '-subj', '/CN=berth-apiserver']);
    await openssl(['x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-out', `${crt}.new`, '-days', '825', '-extfile', ext]);
    await writeFileAtomic(key, await readFile(`${key}.new`), 0o600);
    await writeFileAtomic(crt, await readFile(`${crt}.new`));
    for (const f of [`${key}.new`, `${crt}.new`, csr, ext]) await rm(f, { force: true });
  }
  return { caPem: await readFile(caCrt, 'utf8'), certPem: await readFile(crt, 'utf8'), keyPem: await readFile(key, 'utf8') };
}

const CERT_DAYS = 365;

/**
 * The API server's client certificate towards the agents (CN system:berth-apiserver, clientAuth),
 * signed by Berth's CA and kept in <data-dir>/tls/apiserver-client.{crt,key}; made again when
 * missing, expiring or not from the current CA. Call after ensureServingCerts (which makes the CA).
 */
export async function ensureApiserverClientCert(dataDir: string): Promise<AgentTlsCredentials> {
  const dir = join(dataDir, 'tls');
  const caCrt = join(dir, 'ca.crt');
  const key = join(dir, 'apiserver-client.key');
  const crt = join(dir, 'apiserver-client.crt');
  await ensureCa(dataDir);
  const caPem = await readFile(caCrt, 'utf8');
  const have = existsSync(crt) && existsSync(key) ? await readFile(crt, 'utf8') : undefined;
  if (!have || !certificateCurrent(have, caPem, APISERVER_CLIENT_USER)) {
    const csr = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${key}.new`, '-subj', `/CN=${APISERVER_CLIENT_USER}`]);
    await writeFileAtomic(crt, await signRequest(dataDir, csr, `/CN=${APISERVER_CLIENT_USER}`, 'clientAuth'));
    await writeFileAtomic(key, await readFile(`${key}.new`), 0o600);
    await rm(`${key}.new`, { force: true });
  }
  return { ca: caPem, cert: await readFile(crt, 'utf8'), key: await readFile(key, 'utf8') };
}

/**
 * Signs a PEM certificate request with Berth's CA after checking its self-signature (the requester
 * holds the key); the subject is `subject`, whatever the request asked for.
 */
export async function signRequest(dataDir: string, csrPem: string, subject: string, usage: 'serverAuth' | 'clientAuth'): Promise<string> {
  const dir = join(dataDir, 'tls');
  const work = await mkdtemp(join(dir, 'sign-'));
  try {
    await writeFileAtomic(join(work, 'req.csr'), csrPem);
    await openssl(['req', '-in', join(work, 'req.csr'), '-noout', '-verify']);
    await writeFileAtomic(join(work, 'ext'), `extendedKeyUsage=${usage}\nkeyUsage=digitalSignature,keyEncipherment\n`);
    const serial = `0x${randomBytes(16).toString('hex')}`;
    await openssl(['x509', '-req', '-in', join(work, 'req.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-set_serial', serial, '-days', String(CERT_DAYS), '-extfile', join(work, 'ext'), '-subj', subject, '-out', join(work, 'out.crt')]);
    return await readFile(join(work, 'out.crt'), 'utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
