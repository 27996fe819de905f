import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

// Standard Webhooks (https://www.standardwebhooks.com): the signed content is `${id}.${timestamp}.${body}`, the key is
// the base64 after `whsec_`, the header lists `v1,<base64 HMAC-SHA256>` (space-separated when several secrets sign).

const PREFIX = 'whsec_';

/** 24 random bytes: the spec asks for 24-64. */
export function newSecret(): string {
  return PREFIX + randomBytes(24).toString('base64');
}

/** Decoded keys by secret: every delivery to an endpoint signs with the same one or two secrets. */
const keys = new Map<string, KeyObject>();
const MAX_CACHED_KEYS = 10_000;

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    key = createSecretKey(Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64'));
    keys.set(secret, key);
  }
  return key;
}

export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return 'v1,' + createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/**
 * The three request headers for one attempt; `timestamp` is Unix seconds at sending time (receivers check its age).
 * During a rotation's overlap window `secrets` holds the new and the old secret: one `v1,` entry each, space-separated,
 * so a receiver still configured with either verifies (the spec's verifiers accept any matching entry).
 */
export function signedHeaders(secrets: string | readonly string[], id: string, timestamp: number, body: string): Record<string, string> {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': list.map((s) => signature(s, id, timestamp, body)).join(' '),
  };
}
