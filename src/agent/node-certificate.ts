/**
 * The certificate of this node's agent endpoint (README, Security): a key made on the node (it never
 * leaves it) and a certificate for it from Berth's CA, asked of the API server as
 * POST nodes/NAME/certificate with a certificate request. Kept in <data-dir>/agent-tls across
 * restarts (node.key 0600, node.crt, ca.crt); asked again only when missing, for another node,
 * not from the stored CA, or within 30 days of its end.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeUserName, NODES_GROUP, type AgentTlsCredentials, type NodeCertificateResponse } from '../api/agent-tls.js';
import type { ApiClient } from '../client/api-client.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { certificateCurrent } from '../util/certificates.js';
import { openssl } from '../util/openssl.js';

async function readIfExists(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** This node's endpoint certificate, key and Berth's CA: the stored ones, or new ones from the API server. */
export async function ensureNodeCertificate(client: ApiClient, nodeName: string, dir: string): Promise<AgentTlsCredentials & { renewed: boolean }> {
  const keyFile = join(dir, 'node.key');
  const certFile = join(dir, 'node.crt');
  const caFile = join(dir, 'ca.crt');
  const [key, cert, ca] = await Promise.all([readIfExists(keyFile), readIfExists(certFile), readIfExists(caFile)]);
  if (key && cert && ca && certificateCurrent(cert, ca, nodeUserName(nodeName))) return { key, cert, ca, renewed: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const newKey = `${keyFile}.new`;
  try {
    const csr = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', newKey, '-subj', `/CN=${nodeUserName(nodeName)}/O=${NODES_GROUP}`]);
    const got = await client.json<NodeCertificateResponse>('POST', `/apis/berth.dev/v1alpha1/nodes/${encodeURIComponent(nodeName)}/certificate`, {}, { csr });
    if (!certificateCurrent(got.certificate, got.ca, nodeUserName(nodeName))) throw new Error(`the API server's certificate for node ${nodeName} is not for ${nodeUserName(nodeName)} or not signed by the CA it sent`);
    // the key goes last: a crash in between leaves a certificate without its key, asked again next start
    await writeFileAtomic(caFile, got.ca);
    await writeFileAtomic(certFile, got.certificate);
    await writeFileAtomic(keyFile, await readFile(newKey), 0o600);
    return { key: await readFile(keyFile, 'utf8'), cert: got.certificate, ca: got.ca, renewed: true };
  } finally {
    await rm(newKey, { force: true });
  }
}
