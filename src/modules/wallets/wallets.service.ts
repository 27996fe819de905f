import { randomBytes } from 'node:crypto';
import bs58 from 'bs58';
import type { Kysely } from 'kysely';
import { isUniqueViolation } from '../../db/pg-errors';
import type { DB } from '../../db/schema';
import { UserError } from '../../errors';
import { refuseBlocked } from '../users/blocked';
import type { Metrics } from '../../metrics';
import * as users from '../users/users.accounts';
import { ADDRESS_PLACEHOLDER, buildLinkMessage, normalizeBaseUrl, sanitizeName } from './link-message';
import { decodeSignature, offchainMessageV0, verifyEd25519, walletPublicKey } from './wallet-crypto';
import * as repo from './wallets.repository';
import type { RegistrationNonce, WalletMessageData, WalletRegistration } from './wallets.tables';

export const NONCE_TTL_SECONDS = 10 * 60;
/** Failed verifications per IP (link page) or per Discord user (/wallet verify) in the window; successes don't count. */
export const RATE_LIMIT_ATTEMPTS = 5;
export const RATE_LIMIT_WINDOW_SECONDS = 15 * 60;
/** Failed verifications one nonce survives, from anywhere; then it is burned and the owner asks for a new link. */
export const NONCE_FAILURE_LIMIT = 5;
/** /wallet link: at most this many links per user in the window (a burst for a lost reply, not a minting loop). */
export const LINK_LIMIT = 3;
export const LINK_WINDOW_SECONDS = 10 * 60;
/** Expired nonces are kept this long so a late click says "expired" rather than "unknown". */
export const NONCE_CLEANUP_GRACE_SECONDS = 60 * 60;

const NONCE_SHAPE = /^[1-9A-HJ-NP-Za-km-z]{16,64}$/;

/** What the Discord layer is told after a successful link (DM the user, edit the /wallet link reply). */
export interface WalletLinkedEvent {
  discordId: string;
  address: string;
  via: 'page' | 'command';
  /** Present when the nonce came from a /wallet link reply that can still be edited. */
  interaction?: { appId: string; token: string };
}

/** Must not throw for delivery failures it can log itself; a failed DM never undoes a committed link. */
export type WalletNotifier = (event: WalletLinkedEvent) => Promise<void>;

export interface CreatedLink {
  nonce: string;
  url: string;
  expiresAt: Date;
  /** The exact text to sign when `address` was given, otherwise the template with ADDRESS_PLACEHOLDER. */
  message: string;
  exact: boolean;
  /** Open nonces this one replaced. */
  invalidated: number;
}

export interface VerifyInput {
  nonce?: string;
  address: string;
  signature: string;
  /** Set for /wallet verify: the nonce must be this user's (and defaults to their open one). */
  discordId?: string;
  /** Set for the HTTP API: rate-limited per client address too. */
  ip?: string;
}

export interface LinkedWallet {
  discordId: string;
  address: string;
  verifiedAt: Date;
  /** The address the user had before, when this verification replaced it. */
  replaced?: string;
}

export interface WalletStatus {
  wallet?: WalletRegistration;
  pendingLink?: { nonce: string; expiresAt: Date };
}

export class WalletsService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly metrics?: Pick<Metrics, 'walletNoncesDeleted'>,
    /** Confirms a link made on the web page in Discord; without it links still work, silently. */
    private readonly notifier?: WalletNotifier,
  ) {}

  /** A fresh nonce for the user; their older unused nonces stop working. At most LINK_LIMIT per LINK_WINDOW_SECONDS. */
  async createLink(input: {
    discordId: string;
    username: string;
    publicUrl: string;
    address?: string;
    interaction?: { appId: string; token: string };
  }): Promise<CreatedLink> {
    const address = input.address ? bs58.encode(walletPublicKey(input.address)) : undefined;
    const baseUrl = normalizeBaseUrl(input.publicUrl);
    const { row, invalidated } = await this.db.transaction().execute(async (trx) => {
      const user = await users.upsertByDiscordId(trx, input.discordId, input.username);
      await refuseBlocked(trx, { self: input.discordId });
      const recent = await repo.lockAndCountRecentNonces(trx, user.id, LINK_WINDOW_SECONDS);
      if (recent.count >= LINK_LIMIT) {
        throw new UserError(
          'LINK_COOLDOWN',
          `You asked for ${recent.count} wallet links in the last ${LINK_WINDOW_SECONDS / 60} minutes; try again in ` +
            `${formatWait(recent.retryAfterSeconds)}. Your newest link still works until it expires.`,
        );
      }
      const invalidated = await repo.invalidateOpenNonces(trx, user.id);
      const row = await repo.insertNonce(trx, {
        nonce: bs58.encode(randomBytes(16)),
        userId: user.id,
        discordId: input.discordId,
        discordUsername: sanitizeName(input.username),
        baseUrl,
        interactionAppId: input.interaction?.appId ?? null,
        interactionToken: input.interaction?.token ?? null,
        ttlSeconds: NONCE_TTL_SECONDS,
      });
      return { row, invalidated };
    });
    return {
      nonce: row.nonce,
      url: `${baseUrl}/link/${row.nonce}`,
      expiresAt: row.expires_at,
      message: messageOf(row, address ?? ADDRESS_PLACEHOLDER),
      exact: address !== undefined,
      invalidated,
    };
  }

  /** The link page's view of a nonce: who it is for and until when. Throws if it can no longer be used. */
  async linkInfo(nonce: string): Promise<{ discordUsername: string; expiresAt: Date }> {
    const row = await this.usableNonce(nonce);
    return { discordUsername: row.discord_username, expiresAt: row.expires_at };
  }

  /** The exact text the wallet must sign for this nonce and address. */
  async messageFor(nonce: string, address: string): Promise<{ message: string; expiresAt: Date }> {
    const canonical = bs58.encode(walletPublicKey(address));
    const row = await this.usableNonce(nonce);
    return { message: messageOf(row, canonical), expiresAt: row.expires_at };
  }

  /**
   * Verifies a signature over the server-built message and links the wallet. Failed attempts count toward the rate
   * limit of their source (the IP for the link page, the Discord user for /wallet verify) and toward the nonce, which
   * is burned after NONCE_FAILURE_LIMIT failures; successes count nowhere. On any failure nothing else changes.
   */
  async verify(input: VerifyInput): Promise<LinkedWallet> {
    const via = input.discordId ? 'command' : 'page';
    const nonceText = input.nonce?.trim() || (input.discordId ? (await repo.findOpenNonceOfUser(this.db, input.discordId))?.nonce : undefined);
    if (!nonceText) throw new UserError('NO_OPEN_LINK', 'You have no open wallet link: run /wallet link first.');
    const found = NONCE_SHAPE.test(nonceText) ? await repo.findNonce(this.db, nonceText) : undefined;

    // Only the source's own failures limit it: someone else's failures, from another IP or account, never do.
    const subjects: string[] = [];
    if (input.ip) subjects.push(`ip:${input.ip}`);
    if (input.discordId) subjects.push(`user:${input.discordId}`);
    let attemptIds: bigint[] = [];
    if (subjects.length) {
      const recorded = await repo.recordAttempt(this.db, subjects, RATE_LIMIT_ATTEMPTS, RATE_LIMIT_WINDOW_SECONDS);
      if ('limited' in recorded) {
        throw new UserError(
          'RATE_LIMITED',
          `Too many verification attempts failed: at most ${RATE_LIMIT_ATTEMPTS} per ${RATE_LIMIT_WINDOW_SECONDS / 60} minutes. ` +
            `Try again in ${formatWait(recorded.limited.retryAfterSeconds)}.`,
        );
      }
      attemptIds = recorded.ids;
    }

    const publicKey = walletPublicKey(input.address);
    const address = bs58.encode(publicKey);
    const signatures = decodeSignature(input.signature);
    if (!found) throw unknownNonce();
    if (input.discordId && found.discord_id !== input.discordId) {
      throw new UserError('NONCE_OTHER_USER', 'That link was issued to another Discord account; run /wallet link to get your own.');
    }
    assertUsable(found);
    if (!(await repo.reserveNonceAttempt(this.db, found.nonce, NONCE_FAILURE_LIMIT))) throw nonceBurned();

    const message = messageOf(found, address);
    const raw = Buffer.from(message, 'utf8');
    const offchain = offchainMessageV0(raw);
    let envelope: WalletMessageData['envelope'] | undefined;
    let signature: Uint8Array | undefined;
    for (const sig of signatures) {
      if (verifyEd25519(raw, sig, publicKey)) [envelope, signature] = ['raw', sig];
      else if (verifyEd25519(offchain, sig, publicKey)) [envelope, signature] = ['offchain-v0', sig];
      if (signature) break;
    }
    if (!envelope || !signature) {
      throw new UserError(
        'SIGNATURE_MISMATCH',
        `The signature does not match: it must be ${address}'s signature of the exact message for this link.`,
      );
    }
    const messageData: WalletMessageData = { message, envelope, signature: bs58.encode(signature), via };

    // The signature is right: whatever happens next, this attempt was not a failed guess.
    await repo.forgetAttempts(this.db, attemptIds);
    let replaced: string | undefined;
    try {
      const registration = await this.db.transaction().execute(async (trx) => {
        const consumed = await repo.consumeNonce(trx, found.nonce, address);
        if (!consumed) {
          // Lost a race with another verification, or expired since we looked: report the state now.
          const now = await repo.findNonce(trx, found.nonce);
          if (now) assertUsable(now);
          throw unknownNonce();
        }
        // In the nonce's transaction: a block that lands meanwhile leaves the nonce unused and nothing linked.
        await refuseBlocked(trx, { self: found.discord_id });
        if ((await repo.otherHolderOf(trx, address, consumed.user_id)) !== undefined) throw addressTaken(address);
        const previous = await repo.findRegistrationByUserId(trx, consumed.user_id, true);
        if (previous && previous.address !== address) {
          replaced = previous.address;
          await repo.removeSolanaCredential(trx, consumed.user_id, previous.address);
        }
        const reg = await repo.upsertRegistration(trx, { userId: consumed.user_id, address, nonce: consumed.nonce, messageData });
        await repo.addSolanaCredential(trx, consumed.user_id, address);
        return reg;
      });
      const linked: LinkedWallet = { discordId: found.discord_id, address, verifiedAt: registration.verified_at, ...(replaced ? { replaced } : {}) };
      this.notify({
        discordId: found.discord_id,
        address,
        via,
        ...(found.interaction_app_id && found.interaction_token
          ? { interaction: { appId: found.interaction_app_id, token: found.interaction_token } }
          : {}),
      });
      return linked;
    } catch (err) {
      // The nonce stays open (the transaction rolled back): give back the attempt its correct signature reserved.
      await repo.releaseNonceAttempt(this.db, found.nonce);
      // Two users racing for one address: the unique constraint decides, the loser's transaction rolled back.
      if (isUniqueViolation(err, ['wallet_registrations_address_key', 'chain_credentials_chain_address_key'])) throw addressTaken(address);
      throw err;
    }
  }

  async status(discordId: string): Promise<WalletStatus> {
    const [wallet, open] = await Promise.all([
      repo.findRegistrationByDiscordId(this.db, discordId),
      repo.findOpenNonceOfUser(this.db, discordId),
    ]);
    return { ...(wallet ? { wallet } : {}), ...(open ? { pendingLink: { nonce: open.nonce, expiresAt: open.expires_at } } : {}) };
  }

  /**
   * Removes the user's wallet link and its chain credential. `expectedAddress` (from a confirm button) makes a
   * stale confirmation fail instead of removing a wallet linked after it was shown.
   */
  async unlink(discordId: string, expectedAddress?: string): Promise<{ address: string }> {
    return this.db.transaction().execute(async (trx) => {
      const user = await users.findByDiscordId(trx, discordId);
      const current = user && (await repo.findRegistrationByUserId(trx, user.id, true));
      if (!user || !current) throw new UserError('NO_WALLET', 'You have no linked wallet.');
      if (expectedAddress !== undefined && current.address !== expectedAddress) {
        throw new UserError('WALLET_CHANGED', `Your linked wallet is now ${current.address}; run /wallet unlink again.`);
      }
      await repo.deleteRegistration(trx, user.id, current.address);
      await repo.removeSolanaCredential(trx, user.id, current.address);
      return { address: current.address };
    });
  }

  /** Batched deletion of dead nonces and old rate-limit attempts (the nonce-cleanup job). */
  async cleanup(opts: { graceSeconds?: number; batchSize?: number; onBatch?: (deleted: number) => void } = {}) {
    const grace = opts.graceSeconds ?? NONCE_CLEANUP_GRACE_SECONDS;
    const batchSize = opts.batchSize ?? 5000;
    let nonces = 0;
    let batches = 0;
    for (;;) {
      const n = await repo.deleteExpiredNoncesBatch(this.db, grace, batchSize);
      if (n > 0) {
        batches++;
        nonces += n;
        // Counted per batch so a run cut short still reports what it removed.
        this.metrics?.walletNoncesDeleted.inc(n);
        opts.onBatch?.(n);
      }
      if (n < batchSize) break;
    }
    let attempts = 0;
    for (;;) {
      const n = await repo.deleteOldAttemptsBatch(this.db, RATE_LIMIT_WINDOW_SECONDS, batchSize);
      attempts += n;
      if (n < batchSize) break;
    }
    return { nonces, batches, attempts };
  }

  private async usableNonce(nonce: string): Promise<RegistrationNonce> {
    const row = NONCE_SHAPE.test(nonce) ? await repo.findNonce(this.db, nonce) : undefined;
    if (!row) throw unknownNonce();
    assertUsable(row);
    return row;
  }

  private notify(event: WalletLinkedEvent): void {
    const notifier = this.notifier;
    if (!notifier) return;
    // The notifier logs its own delivery failures; nothing here may turn a committed link into an error.
    void Promise.resolve()
      .then(() => notifier(event))
      .catch(() => undefined);
  }
}

function messageOf(row: RegistrationNonce, address: string): string {
  return buildLinkMessage({
    baseUrl: row.base_url,
    address,
    discordId: row.discord_id,
    discordUsername: row.discord_username,
    nonce: row.nonce,
    issuedAt: row.created_at,
    expiresAt: row.expires_at,
  });
}

function assertUsable(row: repo.NonceWithState): void {
  if (row.used_at) throw new UserError('NONCE_USED', 'This link was already used. Run /wallet link for a new one.');
  if (row.invalidated_at) {
    throw new UserError('NONCE_SUPERSEDED', 'This link was replaced by a newer /wallet link; use the newest one.');
  }
  if (row.expired) throw new UserError('NONCE_EXPIRED', 'This link expired (links last 10 minutes). Run /wallet link again.');
  if (row.failed_attempts >= NONCE_FAILURE_LIMIT) throw nonceBurned();
}

const nonceBurned = () =>
  new UserError(
    'NONCE_BURNED',
    `This link was locked after ${NONCE_FAILURE_LIMIT} failed signature attempts. Run /wallet link for a new one.`,
  );

const unknownNonce = () => new UserError('NONCE_UNKNOWN', 'Unknown link. Run /wallet link to get a new one.');
const addressTaken = (address: string) =>
  new UserError('ADDRESS_TAKEN', `The wallet ${address} is already linked to another Discord account.`);

function formatWait(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}
