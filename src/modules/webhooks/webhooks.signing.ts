import { createHmac, randomBytes } from 'node:crypto';

// Standard Webhooks (https://www.standardwebhooks.com): the signed content is `${id}.${timestamp}.${body}`, the key is
// the base64 after `whsec_`, the header lists `v1,<base64 HMAC-SHA256>` (space-separated when several secrets sign).

const PREFIX = 'whsec_';

/** 24 random bytes: the spec asks for 24-64. */
export function newSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/** The three request headers for one attempt; `timestamp` is Unix seconds at sending time (receivers check its age). */
export function signedHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature(secret, id, timestamp, body),
  };
}
