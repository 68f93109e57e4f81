/**
 * How the API server and the agents know each other (README, Security): each agent's endpoint is
 * HTTPS with a certificate from Berth's CA whose CN is its node's identity, which the API server
 * checks for the node it calls; the API server presents a client certificate from the same CA
 * whose CN is APISERVER_CLIENT_USER, the only client the agents accept. No bearer token is sent.
 */
export const APISERVER_CLIENT_USER = 'system:berth-apiserver';
export const NODES_GROUP = 'system:nodes';
export const nodeUserName = (nodeName: string): string => `system:node:${nodeName}`;

/** Body of POST /apis/berth.dev/v1alpha1/nodes/NAME/certificate: a PEM certificate request (its subject is not used). */
export interface NodeCertificateRequest {
  csr: string;
}

/** The answer (201): the node's certificate (CN system:node:NAME, O system:nodes) and Berth's CA. */
export interface NodeCertificateResponse {
  certificate: string;
  ca: string;
}

/** The client certificate and CA the API server calls agents with. */
export interface AgentTlsCredentials {
  ca: string;
  cert: string;
  key: string;
}
