import { createHash, randomBytes } from 'node:crypto';
import type { Environment } from './quota.tables';

/**
 * Token formats. Client tokens say which kind of deployment they are for (`sb_live_` = prod, `sb_test_` = dev and
 * stage) so a leaked test token is recognisable and can never be mistaken for a live one; reporter tokens are
 * `sb_rep_`. Only the SHA-256 of a token is stored: tokens have 192 random bits, so a fast hash is enough (no
 * password-style stretching needed) and lookups stay one indexed equality.
 */
export const CLIENT_TOKEN = /^sb_(live|test)_[A-Za-z0-9_-]{32}$/;
export const REPORTER_TOKEN = /^sb_rep_[A-Za-z0-9_-]{32}$/;

export const prefixOf = (environment: Environment) => (environment === 'prod' ? 'sb_live_' : 'sb_test_');

export function newClientToken(environment: Environment): string {
  return prefixOf(environment) + randomBytes(24).toString('base64url');
}

export function newReporterToken(): string {
  return 'sb_rep_' + randomBytes(24).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export const hintOf = (token: string) => `…${token.slice(-4)}`;
