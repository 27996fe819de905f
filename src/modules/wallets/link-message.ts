/** Everything the server puts in the text a wallet signs; the client never supplies any of it. */
export interface LinkMessageFields {
  /** PUBLIC_URL without a trailing slash, e.g. `https://bot.example.com`; its host is the sign-in domain. */
  baseUrl: string;
  address: string;
  discordId: string;
  discordUsername: string;
  nonce: string;
  issuedAt: Date;
  expiresAt: Date;
}

export const ADDRESS_PLACEHOLDER = '<your wallet address>';

/**
 * A Sign-In-With-Solana style message (the EIP-4361 layout Phantom and Solflare recognise): the first line binds
 * the signature to our domain, the statement to one Discord account, the nonce and times to one short-lived link.
 */
export function buildLinkMessage(f: LinkMessageFields): string {
  const host = new URL(f.baseUrl).host;
  return [
    `${host} wants you to sign in with your Solana account:`,
    f.address,
    '',
    `Link this wallet to Discord user @${f.discordUsername} (id ${f.discordId}) on Solbound. ` +
      'Signing is free and does not send a transaction.',
    '',
    `URI: ${f.baseUrl}/link/${f.nonce}`,
    'Version: 1',
    `Nonce: ${f.nonce}`,
    `Issued At: ${f.issuedAt.toISOString()}`,
    `Expiration Time: ${f.expiresAt.toISOString()}`,
    'Resources:',
    `- discord:user:${f.discordId}`,
  ].join('\n');
}

/** A Discord name made safe to embed in one line of the message (global names may hold any character). */
export function sanitizeName(name: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').replace(/\s+/g, ' ').trim();
  return (clean || 'unknown').slice(0, 64);
}

/** PUBLIC_URL normalised for joining paths: no trailing slash, no query or fragment. */
export function normalizeBaseUrl(publicUrl: string): string {
  const u = new URL(publicUrl);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
