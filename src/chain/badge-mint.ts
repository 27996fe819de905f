import { createHash, createHmac } from 'node:crypto';
import {
  AuthorityType,
  createAssociatedTokenAccountIdempotentInstruction,
  createBurnCheckedInstruction,
  createCloseAccountInstruction,
  createInitializeMetadataPointerInstruction,
  createInitializeMint2Instruction,
  createInitializeMintCloseAuthorityInstruction,
  createInitializeNonTransferableMintInstruction,
  createInitializePermanentDelegateInstruction,
  createMintToInstruction,
  createSetAuthorityInstruction,
  ExtensionType,
  getAssociatedTokenAddressSync,
  getMintLen,
  getTokenMetadata,
  LENGTH_SIZE,
  TOKEN_2022_PROGRAM_ID,
  TYPE_SIZE,
  unpackAccount,
  unpackMint,
  getNonTransferable,
  getPermanentDelegate,
  getMintCloseAuthority,
  getMetadataPointerState,
} from '@solana/spl-token';
import { createInitializeInstruction, createUpdateFieldInstruction, pack, type TokenMetadata } from '@solana/spl-token-metadata';
import { PublicKey, SystemProgram, type Connection, type TransactionInstruction } from '@solana/web3.js';
import { ChainError, signInstructions, type RecentBlockhash, type SignedTransfer } from './transfers';
import { loadTreasury, TreasuryKeyError, type Treasury } from './treasury';

/*
 * Soulbound trust badges: one Token-2022 mint per badge, decimals 0, supply 1, minted in ONE transaction.
 *
 * The mint address is derived (createAccountWithSeed) from the issuer key and the badge id, so every transaction
 * ever built for one badge creates the same account: whichever lands first makes the badge, any other one fails
 * (the account exists) and can never make a second. Layout rules the programs impose:
 * - `space` covers the fixed-size extensions only; InitializeMint2 checks the data length equals exactly that.
 *   The lamports cover the final size with the metadata TLV, which TokenMetadata initialize/updateField realloc
 *   into (rent is checked after each realloc).
 * - every extension init comes before InitializeMint2; the metadata init after it (it needs the mint authority).
 * - lamports are sized for the WIDEST field values we ever write (`BADGE_FIELD_WIDTH`), so a later updateField
 *   never needs a top-up in its transaction.
 */

export const BADGE_EXTENSIONS = [
  ExtensionType.NonTransferable,
  ExtensionType.PermanentDelegate,
  ExtensionType.MetadataPointer,
  ExtensionType.MintCloseAuthority,
] as const;

/** On-chain metadata fields and the widest value each may hold (lamports are funded for these widths). */
export const BADGE_FIELD_WIDTH = { reputation: 4, tier: 8, discord: 32 } as const;
export type BadgeField = keyof typeof BADGE_FIELD_WIDTH;
export type BadgeFields = Record<BadgeField, string>;

/** The dedicated badge issuer: pays rent and fees, is mint/update/close authority and the permanent delegate. */
export type BadgeIssuer = Treasury;

/** Loads the issuer key from config; the same formats as the treasury, with errors naming the badge issuer. */
export function loadBadgeIssuer(source: { keypairPath?: string; secret?: string }): BadgeIssuer {
  try {
    return loadTreasury(source);
  } catch (e) {
    if (e instanceof TreasuryKeyError) throw new TreasuryKeyError(e.message.replace(/treasury/g, 'badge issuer'));
    throw e;
  }
}

/** Seeds are at most 32 bytes; a badge id is a bigint, so this always fits. */
export function badgeSeed(badgeId: bigint): string {
  return `badge:${badgeId.toString()}`;
}

// PublicKey.createWithSeed's derivation (sha256(base ‖ seed ‖ owner)), synchronously: web3.js only offers it async.
function withSeed(base: PublicKey, seed: string, owner: PublicKey): PublicKey {
  return new PublicKey(createHash('sha256').update(base.toBuffer()).update(seed, 'utf8').update(owner.toBuffer()).digest());
}

export function badgeMintAddress(issuer: string, badgeId: bigint): string {
  return withSeed(new PublicKey(issuer), badgeSeed(badgeId), TOKEN_2022_PROGRAM_ID).toBase58();
}

export function badgeHolderAccount(owner: string, mint: string): string {
  return getAssociatedTokenAddressSync(new PublicKey(mint), new PublicKey(owner), false, TOKEN_2022_PROGRAM_ID).toBase58();
}

/**
 * The `discord` field: a keyed hash of the Discord id, not the id itself. A public id would let anyone map a
 * wallet to a Discord account; a plain hash of a snowflake is brute-forceable (ids are timestamps plus a few
 * bits). HMAC under a key only the issuer holds stays verifiable by the bot and unlinkable by others.
 */
export function discordFieldValue(issuerSecretHmac: (data: string) => Buffer, discordId: string): string {
  return issuerSecretHmac(`solbound-badge-discord:${discordId}`).subarray(0, 16).toString('hex');
}

export function padField(field: BadgeField, value: string): string {
  const width = BADGE_FIELD_WIDTH[field];
  if (value.length > width) throw new ChainError(`badge field ${field} is wider than ${width}: ${value}`);
  return value;
}

export interface BadgeMetadata {
  name: string;
  symbol: string;
  uri: string;
  fields: BadgeFields;
}

function metadataFor(mint: PublicKey, issuer: PublicKey, m: BadgeMetadata, widest: boolean): TokenMetadata {
  const value = (f: BadgeField) => (widest ? 'x'.repeat(BADGE_FIELD_WIDTH[f]) : padField(f, m.fields[f]));
  return {
    updateAuthority: issuer,
    mint,
    name: m.name,
    symbol: m.symbol,
    uri: m.uri,
    additionalMetadata: (Object.keys(BADGE_FIELD_WIDTH) as BadgeField[]).map((f) => [f, value(f)] as const),
  };
}

/** Account sizes of a badge mint: what `space` allocates, and the largest the metadata can make it. */
export function badgeMintSizes(m: Omit<BadgeMetadata, 'fields'>): { space: number; maxSize: number } {
  const space = getMintLen([...BADGE_EXTENSIONS]);
  const key = PublicKey.default;
  const metadata = metadataFor(key, key, { ...m, fields: { reputation: '', tier: '', discord: '' } }, true);
  return { space, maxSize: space + TYPE_SIZE + LENGTH_SIZE + pack(metadata).length };
}

export interface BadgeMintParams extends BadgeMetadata {
  badgeId: bigint;
  /** The holder's verified wallet. */
  owner: string;
  /** Rent-exempt minimum for `maxSize` (getMinimumBalanceForRentExemption), read by the caller. */
  mintLamports: bigint;
}

/** The 13 instructions that create, describe, mint and lock one badge. */
export function buildBadgeMintInstructions(issuerKey: string, p: BadgeMintParams): TransactionInstruction[] {
  const issuer = new PublicKey(issuerKey);
  const owner = new PublicKey(p.owner);
  const seed = badgeSeed(p.badgeId);
  const mint = withSeed(issuer, seed, TOKEN_2022_PROGRAM_ID);
  const ata = getAssociatedTokenAddressSync(mint, owner, false, TOKEN_2022_PROGRAM_ID);
  const { space } = badgeMintSizes(p);
  const programId = TOKEN_2022_PROGRAM_ID;
  const meta = metadataFor(mint, issuer, p, false);
  return [
    SystemProgram.createAccountWithSeed({
      fromPubkey: issuer,
      newAccountPubkey: mint,
      basePubkey: issuer,
      seed,
      lamports: Number(p.mintLamports),
      space,
      programId,
    }),
    createInitializeNonTransferableMintInstruction(mint, programId),
    createInitializePermanentDelegateInstruction(mint, issuer, programId),
    createInitializeMetadataPointerInstruction(mint, issuer, mint, programId),
    createInitializeMintCloseAuthorityInstruction(mint, issuer, programId),
    createInitializeMint2Instruction(mint, 0, issuer, null, programId),
    createInitializeInstruction({
      programId,
      metadata: mint,
      updateAuthority: issuer,
      mint,
      mintAuthority: issuer,
      name: meta.name,
      symbol: meta.symbol,
      uri: meta.uri,
    }),
    ...meta.additionalMetadata.map(([field, value]) =>
      createUpdateFieldInstruction({ programId, metadata: mint, updateAuthority: issuer, field, value }),
    ),
    createAssociatedTokenAccountIdempotentInstruction(issuer, ata, owner, mint, programId),
    createMintToInstruction(mint, ata, issuer, 1, [], programId),
    createSetAuthorityInstruction(mint, issuer, AuthorityType.MintTokens, null, [], programId),
  ];
}

/** Field rewrites (sync job); no top-up: the mint was funded for the widest values. */
export function buildBadgeFieldUpdateInstructions(issuerKey: string, mint: string, fields: Partial<BadgeFields>): TransactionInstruction[] {
  const issuer = new PublicKey(issuerKey);
  const key = new PublicKey(mint);
  return (Object.entries(fields) as [BadgeField, string][]).map(([field, value]) =>
    createUpdateFieldInstruction({ programId: TOKEN_2022_PROGRAM_ID, metadata: key, updateAuthority: issuer, field, value: padField(field, value) }),
  );
}

/**
 * Revoke: the permanent delegate burns the holder's token (skipped when the holder already burned it or closed
 * the account), then the close authority closes the mint and takes its rent back.
 */
export function buildBadgeRevokeInstructions(issuerKey: string, p: { mint: string; holderAccount: string | null }): TransactionInstruction[] {
  const issuer = new PublicKey(issuerKey);
  const mint = new PublicKey(p.mint);
  const out: TransactionInstruction[] = [];
  if (p.holderAccount) {
    out.push(createBurnCheckedInstruction(new PublicKey(p.holderAccount), mint, issuer, 1, 0, [], TOKEN_2022_PROGRAM_ID));
  }
  out.push(createCloseAccountInstruction(mint, issuer, issuer, [], TOKEN_2022_PROGRAM_ID));
  return out;
}

/** Signs issuer-paid instructions over a given blockhash; nothing is sent (the outbox stores it first). */
export function signIssuerTransaction(issuer: BadgeIssuer, instructions: TransactionInstruction[], bh: RecentBlockhash): SignedTransfer {
  return signInstructions(issuer, instructions, bh);
}

export async function badgeMintRent(connection: Connection, m: Omit<BadgeMetadata, 'fields'>): Promise<bigint> {
  return BigInt(await connection.getMinimumBalanceForRentExemption(badgeMintSizes(m).maxSize, 'confirmed'));
}

/** What the chain says about one badge mint (null: the account does not exist — never created, or closed). */
export interface BadgeOnChain {
  mint: string;
  supply: bigint;
  mintAuthority: string | null;
  nonTransferable: boolean;
  permanentDelegate: string | null;
  closeAuthority: string | null;
  metadataAddress: string | null;
  name: string;
  symbol: string;
  uri: string;
  fields: Record<string, string>;
}

export async function readBadge(connection: Connection, mint: string): Promise<BadgeOnChain | null> {
  const key = new PublicKey(mint);
  const info = await connection.getAccountInfo(key, 'confirmed');
  if (!info) return null;
  if (!info.owner.equals(TOKEN_2022_PROGRAM_ID)) throw new ChainError(`${mint} is not a Token-2022 mint`);
  const decoded = unpackMint(key, info, TOKEN_2022_PROGRAM_ID);
  const metadata = await getTokenMetadata(connection, key, 'confirmed', TOKEN_2022_PROGRAM_ID);
  const pointer = getMetadataPointerState(decoded);
  return {
    mint,
    supply: decoded.supply,
    mintAuthority: decoded.mintAuthority?.toBase58() ?? null,
    nonTransferable: getNonTransferable(decoded) !== null,
    permanentDelegate: getPermanentDelegate(decoded)?.delegate.toBase58() ?? null,
    closeAuthority: getMintCloseAuthority(decoded)?.closeAuthority.toBase58() ?? null,
    metadataAddress: pointer?.metadataAddress?.toBase58() ?? null,
    name: metadata?.name ?? '',
    symbol: metadata?.symbol ?? '',
    uri: metadata?.uri ?? '',
    fields: Object.fromEntries(metadata?.additionalMetadata ?? []),
  };
}

/** The holder's badge token balance: 0 when they burned it or closed the account. */
export async function badgeHolderBalance(connection: Connection, owner: string, mint: string): Promise<{ account: string; amount: bigint } | null> {
  const ata = new PublicKey(badgeHolderAccount(owner, mint));
  const info = await connection.getAccountInfo(ata, 'confirmed');
  if (!info) return null;
  return { account: ata.toBase58(), amount: unpackAccount(ata, info, TOKEN_2022_PROGRAM_ID).amount };
}

/** A keyed hash under the issuer's secret (see {@link discordFieldValue}); the secret never leaves the key object. */
export function issuerHmac(issuer: BadgeIssuer): (data: string) => Buffer {
  const key = issuer.derivedKey('solbound-badge-discord-field');
  return (data) => createHmac('sha256', key).update(data).digest();
}
