/** Checks of PEM certificates from Berth's CA, shared by the API server (its client certificate) and the agents (their endpoint's). */
import { X509Certificate } from 'node:crypto';

/** Certificates are made again this long before they end. */
const RENEW_BEFORE_MS = 30 * 24 * 3600_000;

/** Whether `certPem` is signed by `caPem`, has subject CN `cn` and is valid for at least 30 more days. */
export function certificateCurrent(certPem: string, caPem: string, cn: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return cert.verify(new X509Certificate(caPem).publicKey) && /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] === cn && Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}
