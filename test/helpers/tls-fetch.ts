/** fetch that trusts one CA: the test server's own. */
import { Agent, fetch as undiciFetch } from 'undici';

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export function fetchTrusting(caPem: string): Fetch {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  return (url, init = {}) => undiciFetch(url, { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>;
}
