import { createTransferCheckedInstruction, getAssociatedTokenAddressSync, TOKEN_2022_PROGRAM_ID, createAssociatedTokenAccountIdempotentInstruction } from '@solana/spl-token';
import { Keypair, PublicKey, type ParsedAccountData } from '@solana/web3.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSolanaEmulator, type SolanaEmulator } from '../emulators/solana/solana-emulator';
import {
  badgeHolderBalance,
  badgeMintAddress,
  badgeMintRent,
  badgeMintSizes,
  buildBadgeFieldUpdateInstructions,
  buildBadgeMintInstructions,
  buildBadgeRevokeInstructions,
  discordFieldValue,
  issuerHmac,
  readBadge,
  signIssuerTransaction,
  type BadgeMintParams,
} from './badge-mint';
import { createConnection, type ChainConnection } from './connection';
import { confirmSignature, getLatestBlockhash, sendRaw } from './transfers';
import { generateTreasury, type Treasury } from './treasury';

let emu: SolanaEmulator;
let connection: ChainConnection;
let issuer: Treasury;

beforeAll(async () => {
  emu = await startSolanaEmulator();
  connection = createConnection({ rpcUrl: emu.rpcUrl, wsUrl: emu.wsUrl });
  issuer = generateTreasury().treasury;
  emu.fund(issuer.publicKey, 10_000_000_000n);
});

afterAll(async () => {
  expect(emu.failures).toEqual([]);
  await emu.close();
});

const META = { name: 'Solbound Trust Badge', symbol: 'SBTRUST', uri: 'http://127.0.0.1:3000/badges/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.json' };

async function params(badgeId: bigint, owner: string): Promise<BadgeMintParams> {
  return {
    ...META,
    badgeId,
    owner,
    mintLamports: await badgeMintRent(connection, META),
    fields: { reputation: '0420', tier: 'silver', discord: discordFieldValue(issuerHmac(issuer), '123456789012345678') },
  };
}

async function land(instructions: Parameters<typeof signIssuerTransaction>[1]) {
  const signed = signIssuerTransaction(issuer, instructions, await getLatestBlockhash(connection));
  await sendRaw(connection, signed.serialized);
  expect(await confirmSignature(connection, signed)).toEqual({ status: 'confirmed', err: null });
  return signed;
}

describe('badge mint transaction', () => {
  const holder = Keypair.generate();
  const badgeId = 7n;
  const mint = () => badgeMintAddress(issuer.publicKey, badgeId);

  it('creates a soulbound Token-2022 badge in one transaction at the address derived from the badge id', async () => {
    emu.fund(holder.publicKey, 100_000_000n);
    const ixs = buildBadgeMintInstructions(issuer.publicKey, await params(badgeId, holder.publicKey.toBase58()));
    expect(ixs).toHaveLength(13);
    const before = emu.balance(issuer.publicKey);
    const signed = await land(ixs);
    expect(Buffer.from(signed.serialized, 'base64').length).toBeLessThanOrEqual(1232);

    const badge = await readBadge(connection, mint());
    expect(badge).toMatchObject({
      supply: 1n,
      mintAuthority: null,
      nonTransferable: true,
      permanentDelegate: issuer.publicKey,
      closeAuthority: issuer.publicKey,
      metadataAddress: mint(),
      name: META.name,
      symbol: META.symbol,
      uri: META.uri,
    });
    expect(badge!.fields).toEqual({ reputation: '0420', tier: 'silver', discord: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(await badgeHolderBalance(connection, holder.publicKey.toBase58(), mint())).toMatchObject({ amount: 1n });
    // Rent for the widest metadata plus the holder's token account and the fee: what one badge costs the issuer.
    const spent = before - emu.balance(issuer.publicKey);
    expect(spent).toBeGreaterThan(0n);
    expect(spent).toBeLessThan(10_000_000n);
  });

  it('jsonParsed shows the extension state and the parsed instructions, as a node does', async () => {
    const { value } = await connection.getParsedAccountInfo(new PublicKey(mint()), 'confirmed');
    const info = (value!.data as ParsedAccountData).parsed as { info: { extensions: { extension: string; state?: Record<string, unknown> }[]; mintAuthority: unknown; supply: string } };
    expect(info.info).toMatchObject({ mintAuthority: null, supply: '1' });
    const ext = Object.fromEntries(info.info.extensions.map((e) => [e.extension, e.state ?? null]));
    expect(ext).toMatchObject({
      nonTransferable: null,
      permanentDelegate: { delegate: issuer.publicKey },
      metadataPointer: { authority: issuer.publicKey, metadataAddress: mint() },
      mintCloseAuthority: { closeAuthority: issuer.publicKey },
      tokenMetadata: { updateAuthority: issuer.publicKey, mint: mint(), name: META.name, additionalMetadata: expect.arrayContaining([['tier', 'silver']]) },
    });

    const [sig] = await connection.getSignaturesForAddress(new PublicKey(mint()));
    const tx = await connection.getParsedTransaction(sig!.signature, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
    expect(tx!.transaction.message.instructions[0]).toMatchObject({ parsed: { info: { seed: 'badge:7', newAccount: mint(), base: issuer.publicKey } } });
    const types = tx!.transaction.message.instructions.map((ix) => ('parsed' in ix ? (ix.parsed as { type: string }).type : 'unparsed'));
    expect(types).toEqual([
      'createAccountWithSeed',
      'initializeNonTransferableMint',
      'initializePermanentDelegate',
      'initializeMetadataPointer',
      'initializeMintCloseAuthority',
      'initializeMint2',
      'initializeTokenMetadata',
      'updateTokenMetadataField',
      'updateTokenMetadataField',
      'updateTokenMetadataField',
      'createIdempotent',
      'mintTo',
      'setAuthority',
    ]);
  });

  it('a rebuilt transaction for the same badge cannot create a second one', async () => {
    const again = signIssuerTransaction(issuer, buildBadgeMintInstructions(issuer.publicKey, await params(badgeId, holder.publicKey.toBase58())), await getLatestBlockhash(connection));
    await expect(sendRaw(connection, again.serialized)).rejects.toMatchObject({ kind: 'simulation-failed' });
    expect((await readBadge(connection, mint()))!.supply).toBe(1n);
  });

  it('the holder cannot transfer it', async () => {
    const other = Keypair.generate().publicKey;
    const key = new PublicKey(mint());
    const from = getAssociatedTokenAddressSync(key, holder.publicKey, false, TOKEN_2022_PROGRAM_ID);
    const to = getAssociatedTokenAddressSync(key, other, false, TOKEN_2022_PROGRAM_ID);
    await expect(
      emu.sendAs(holder, [
        createAssociatedTokenAccountIdempotentInstruction(holder.publicKey, to, other, key, TOKEN_2022_PROGRAM_ID),
        createTransferCheckedInstruction(from, key, to, holder.publicKey, 1, 0, [], TOKEN_2022_PROGRAM_ID),
      ]),
    ).rejects.toThrow(/0x25|non-transferable/i);
    expect(emu.tokenBalance(holder.publicKey, key)).toBe(1n);
  });

  it('updates fields in place without a top-up, including to a longer value', async () => {
    await land(buildBadgeFieldUpdateInstructions(issuer.publicKey, mint(), { reputation: '0999', tier: 'platinum' }));
    expect((await readBadge(connection, mint()))!.fields).toMatchObject({ reputation: '0999', tier: 'platinum' });
  });

  it('revoke burns with the permanent delegate and closes the mint', async () => {
    const holding = await badgeHolderBalance(connection, holder.publicKey.toBase58(), mint());
    await land(buildBadgeRevokeInstructions(issuer.publicKey, { mint: mint(), holderAccount: holding!.account }));
    expect(await readBadge(connection, mint())).toBeNull();
    expect(await badgeHolderBalance(connection, holder.publicKey.toBase58(), mint())).toMatchObject({ amount: 0n });
  });

  it('sizes: fixed extensions allocated, final size funded', () => {
    const { space, maxSize } = badgeMintSizes(META);
    expect(space).toBeLessThan(maxSize);
  });

});
