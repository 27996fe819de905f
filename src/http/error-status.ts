import { z } from 'zod';

/**
 * The one table from UserError codes (src/errors.ts, thrown by services) to HTTP statuses; the error handler in
 * server.ts and the HTML link page both read it. Derived from `grep -rn "new UserError(" src`. Why these statuses:
 *  - 404: the thing named in the request does not exist (a client can stop retrying that id).
 *  - 403: the caller is known but not allowed (retrying as someone else may work; re-authenticating will not).
 *  - 409: the request is well-formed but the resource's current state refuses it (already claimed, closed,
 *    reviewed, balance too low…); the caller should re-read the state before trying again.
 *  - 410: the single-use thing existed and is gone for good (used or expired nonce, expired airdrop).
 *  - 422: well-formed and the resource exists, but a referenced party is not eligible (the claimer is not staff).
 *  - 429: the same request will succeed later; waiting is the fix (rate limits, cooldowns).
 *  - 503: this deployment has the feature switched off (no treasury key), not the caller's fault.
 * Everything else a service throws is bad input the caller can correct: 400.
 */
export const USER_ERROR_STATUS: Readonly<Record<string, number>> = {
  NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  UNKNOWN_USER: 404,
  UNKNOWN_CURRENCY: 404,
  WITHDRAW_UNAVAILABLE: 404,
  NONCE_UNKNOWN: 404,
  GUILD_UNKNOWN: 404,
  TICKET_NOT_FOUND: 404,
  AIRDROP_NOT_FOUND: 404,
  CONFIRMATION_NOT_FOUND: 404,
  NO_BADGE: 404,
  CLIENT_NOT_FOUND: 404,
  ENVIRONMENT_NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  DELIVERY_NOT_FOUND: 404,
  REPORTER_NOT_FOUND: 404,
  PACKAGE_NOT_FOUND: 404,
  BUNDLE_NOT_FOUND: 404,
  VOUCHER_UNKNOWN: 404,
  REPUTATION_NOT_AVAILABLE: 404,
  // Memberships (billing module).
  PLAN_NOT_FOUND: 404,
  PRICE_NOT_FOUND: 404,
  INVOICE_NOT_FOUND: 404,
  SUBSCRIPTION_NOT_FOUND: 404,
  COUPON_UNKNOWN: 404,
  INVITE_NOT_FOUND: 404,

  FORBIDDEN: 403,
  TICKET_FORBIDDEN: 403,
  TICKET_STAFF_ONLY: 403,
  NOT_YOUR_TIP: 403,
  NONCE_OTHER_USER: 403,
  // A blocked member (src/modules/users/blocked.ts): only an operator's unblock changes that.
  USER_BLOCKED: 403,
  ORIGIN_NOT_ALLOWED: 403,
  REPORT_FORBIDDEN: 403,
  // An invite-only plan without an open invite: staff must invite the member first.
  INVITE_REQUIRED: 403,

  ADDRESS_TAKEN: 409,
  ALREADY_CLAIMED: 409,
  ALREADY_REVIEWED: 409,
  OWNER_BLOCKED: 409,
  IDEMPOTENCY_CONFLICT: 409,
  ENDPOINT_DISABLED: 409,
  ENVIRONMENT_INACTIVE: 409,
  TOO_MANY_ENDPOINTS: 409,
  INSUFFICIENT_FUNDS: 409,
  TIP_ALREADY_SENT: 409,
  TIP_CANCELED: 409,
  WALLET_CHANGED: 409,
  WITHDRAW_DISABLED: 409,
  WITHDRAW_PAUSED: 409,
  TICKET_ACTIVE: 409,
  TICKET_ALREADY_CLAIMED: 409,
  TICKET_ALREADY_RATED: 409,
  TICKET_CLOSED: 409,
  TICKET_LIMIT: 409,
  TICKET_NOT_CLAIMED: 409,
  TICKET_STATE: 409,
  TICKET_UNCHANGED: 409,
  ALREADY_REVOKED: 409,
  ALREADY_HAS_BADGE: 409,
  ALREADY_RATED: 409,
  TERMS_REQUIRED: 409,
  TERMS_CHANGED: 409,
  CLIENT_NAME_TAKEN: 409,
  TOO_MANY_CLIENTS: 409,
  NAME_TAKEN: 409,
  CODE_TAKEN: 409,
  VOUCHER_ALREADY_REDEEMED: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  PLAN_CODE_TAKEN: 409,
  PLAN_ARCHIVED: 409,
  COUPON_CODE_TAKEN: 409,
  COUPON_ALREADY_REDEEMED: 409,
  INVOICE_PAID: 409,
  INVOICE_CANCELED: 409,
  INVOICE_REFUNDED: 409,
  INVOICE_STATE: 409,
  INVOICE_NOT_PAID: 409,
  REVENUE_SHORT: 409,
  TRIAL_USED: 409,
  NO_TRIAL: 409,
  SUBSCRIPTION_STATE: 409,
  ALREADY_INVITED: 409,
  ALREADY_SUBSCRIBED: 409,

  NONCE_USED: 410,
  NONCE_EXPIRED: 410,
  NONCE_SUPERSEDED: 410,
  NONCE_BURNED: 410,
  AIRDROP_EXPIRED: 410,
  CONFIRMATION_EXPIRED: 410,
  VOUCHER_EXPIRED: 410,
  VOUCHER_USED_UP: 410,
  INVOICE_EXPIRED: 410,
  COUPON_EXPIRED: 410,
  COUPON_USED_UP: 410,

  TICKET_BAD_CLAIMER: 422,
  RECIPIENT_BLOCKED: 422,
  // A settings id that is well-formed but names no channel/role of that guild.
  GUILD_BAD_CHANNEL: 422,
  GUILD_BAD_ROLE: 422,
  TIER_TOO_LOW: 422,
  NEVER_MET: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  REPORT_ID_REUSED: 422,
  COUPON_OTHER_PLAN: 422,
  COUPON_NOT_APPLICABLE: 422,

  RATE_LIMITED: 429,
  COOLDOWN: 429,
  TICKET_COOLDOWN: 429,
  TOO_MANY_DEPOSITS: 429,
  LINK_COOLDOWN: 429,
  WITHDRAW_COOLDOWN: 429,
  QUOTA_EXCEEDED: 429,
  BURST_LIMITED: 429,

  CHAIN_DISABLED: 503,
  GUILD_UNVERIFIABLE: 503,
  BADGES_DISABLED: 503,
};

export function statusOfUserError(code: string): number {
  return USER_ERROR_STATUS[code] ?? 400;
}

/** Every error response, whatever produced it: `ref` only on 500s (the id to find the logged cause). */
export const errorBody = z
  .object({
    error: z.string().describe('stable machine code, snake_case'),
    message: z.string().describe('human-readable reason'),
    ref: z.string().optional().describe('log reference id (500 only)'),
  })
  .meta({ id: 'Error' });

/** The error responses every schema'd route declares, so the OpenAPI document shows their shape. */
export const errorResponses = { '4xx': errorBody, '5xx': errorBody } as const;
