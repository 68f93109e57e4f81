/** Berth's version, shared by every role (the API server's /version, the Node's nodeInfo). */
export const BERTH_VERSION = '0.1.0';
