import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isPrivateAddress, PrivateAddressError } from './ssrf-guard';

export interface PostResult {
  status: number;
  /** The first `maxResponseBytes` of the body (receivers' error pages are for operators, not worth storing whole). */
  body: string;
}

/**
 * One POST, no redirects followed (a 3xx is just a failed attempt: following it would bypass the address check),
 * connected only to addresses that passed the SSRF guard, abandoned after `timeoutMs` in total.
 */
export function post(
  url: URL,
  headers: Record<string, string>,
  body: string,
  o: { timeoutMs: number; maxResponseBytes: number; allowPrivate: boolean },
): Promise<PostResult> {
  const transport = url.protocol === 'https:' ? https : http;
  // Node connects to an IP literal without calling `lookup`, so those are checked here.
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (!o.allowPrivate && isIP(literal) && isPrivateAddress(literal)) return Promise.reject(new PrivateAddressError(literal, literal));
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Solbound-Webhooks/1', 'content-length': Buffer.byteLength(body), ...headers },
        lookup: guardedLookup(o.allowPrivate),
        // A fresh connection per attempt: a pooled one could outlive the address check of another attempt.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, o.maxResponseBytes).toString('utf8') });
        };
        res.on('data', (chunk: Buffer) => {
          if (size >= o.maxResponseBytes) return;
          chunks.push(chunk);
          size += chunk.length;
          // Enough read: stop downloading a huge body, the status is what counts.
          if (size >= o.maxResponseBytes) {
            res.destroy();
            finish();
          }
        });
        res.on('end', finish);
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no response within ${o.timeoutMs} ms`), { code: 'ETIMEDOUT' })), o.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
