/**
 * POST /apis/berth.dev/v1alpha1/nodes/NAME/certificate: the certificate of a node's agent endpoint,
 * signed by Berth's CA with CN system:node:NAME and O system:nodes, for the public key of the PEM
 * certificate request in the body ({"csr": PEM}; its own subject is not used). RBAC lets the
 * nodes (ClusterRole system:node) and cluster-admin ask; a node asks only for itself: a
 * system:node:OTHER caller is refused, as Kubernetes' NodeRestriction does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import express, { type Request, type Response } from 'express';
import { nodeUserName, NODES_GROUP, type NodeCertificateResponse } from '../api/agent-tls.js';
import type { UserInfo } from './auth/authn.js';
import { forbidden } from './auth/door.js';
import { parseBody } from './body.js';
import { isObject } from './objects.js';
import { errors } from './status.js';
import { signRequest } from './tls.js';
import { sendError } from './app.js';

const PATH = /^\/apis\/berth\.dev\/v1alpha1\/nodes\/([^/]+)\/certificate$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_CSR = 16 * 1024;

export function nodeCertificateRoutes(o: { dataDir: string }): (app: express.Express) => void {
  const handle = async (req: Request, res: Response): Promise<void> => {
    const labels = res.locals.labels as { resource: string; subresource: string } | undefined;
    if (labels) Object.assign(labels, { resource: 'nodes', subresource: 'certificate' });
    if (req.method !== 'POST') throw errors.methodNotAllowed(req.method);
    const nodeName = decodeURIComponent(PATH.exec(req.path)![1]!);
    if (nodeName.length > 253 || !DNS1123_SUBDOMAIN.test(nodeName)) throw errors.badRequest(`metadata.name: Invalid value: ${JSON.stringify(nodeName)}: a node name must be a lowercase RFC 1123 subdomain`);
    const user = res.locals.user as UserInfo;
    // a node may have a certificate for itself only
    if (user.name.startsWith('system:node:') || user.groups.includes(NODES_GROUP)) {
      if (user.name !== nodeUserName(nodeName)) {
        throw forbidden({ user, verb: 'create', resourceRequest: true, path: req.path, apiGroup: 'berth.dev', apiVersion: 'v1alpha1', resource: 'nodes', subresource: 'certificate', namespace: '', name: nodeName });
      }
    }
    const body = parseBody(Buffer.isBuffer(req.body) ? req.body : undefined, req.get('content-type') ?? 'application/json');
    const csr = isObject(body) ? body.csr : undefined;
    if (typeof csr !== 'string' || csr.length > MAX_CSR || !/^-----BEGIN CERTIFICATE REQUEST-----\r?\n[\s\S]+-----END CERTIFICATE REQUEST-----\s*$/.test(csr)) {
      throw errors.badRequest('csr: must be a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----), at most 16 KiB');
    }
    let certificate: string;
    try {
      certificate = await signRequest(o.dataDir, csr, `/CN=${nodeUserName(nodeName)}/O=${NODES_GROUP}`, 'serverAuth');
    } catch (e) {
      throw errors.badRequest(`csr: not a valid certificate request: ${(e as Error).message.split('\n')[0]}`);
    }
    const answer: NodeCertificateResponse = { certificate, ca: await readFile(join(o.dataDir, 'tls', 'ca.crt'), 'utf8') };
    res.status(201).json(answer);
  };
  return (app) => {
    app.all(PATH, express.raw({ type: () => true, limit: MAX_CSR * 2 }), (req, res) => {
      handle(req, res).catch((err: unknown) => sendError(res, err));
    });
  };
}
