/**
 * Serving certificates: a private CA made on first start (kept in <data-dir>/tls) and a server
 * certificate it signs for every address the API can be reached on. Clients trust the CA through
 * the kubeconfig's certificate-authority-data, as with k3s.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface ServingCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`openssl could not be run (install the openssl package): ${e.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl ${args[0]} failed: ${err.trim()}`))));
  });
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

export async function ensureServingCerts(dataDir: string, names: string[]): Promise<ServingCerts> {
  const dir = join(dataDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCrt = join(dir, 'ca.crt');
  const key = join(dir, 'server.key');
  const crt = join(dir, 'server.crt');
  if (!existsSync(caKey) || !existsSync(caCrt)) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCrt, '-days', '3650', '-subj', '/CN=berth-ca']);
  }
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
