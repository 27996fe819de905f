import bs58 from 'bs58';
import { sql } from 'kysely';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Factory } from '../../testing/factories';
import { createTestDatabase, type TestDatabase } from '../../testing/test-db';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ADDRESS_PLACEHOLDER } from './link-message';
import { offchainMessageV0 } from './wallet-crypto';
import { forgeForZeroKey } from './wallet-crypto.testing';
import { LINK_LIMIT, NONCE_FAILURE_LIMIT, RATE_LIMIT_ATTEMPTS, WalletsService, type WalletLinkedEvent } from './wallets.service';

const PUBLIC_URL = 'https://bot.example.com/';

let t: TestDatabase;
let wallets: WalletsService;
const notified: WalletLinkedEvent[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  wallets = new WalletsService(t.db, undefined, async (e) => void notified.push(e));
});
afterAll(() => t.drop());

let seq = 0;
function discordUser() {
  seq++;
  return { discordId: `4000000000000000${String(seq).padStart(2, '0')}`, username: `user${seq}` };
}

function keypair() {
  const kp = nacl.sign.keyPair();
  return { ...kp, address: bs58.encode(kp.publicKey) };
}

const sign = (text: string | Uint8Array, secretKey: Uint8Array) =>
  bs58.encode(nacl.sign.detached(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, secretKey));

/** A user with an open link and the exact message for `kp`. */
async function openLink(user = discordUser(), kp = keypair(), interaction?: { appId: string; token: string }) {
  const link = await wallets.createLink({ ...user, publicUrl: PUBLIC_URL, ...(interaction ? { interaction } : {}) });
  const { message } = await wallets.messageFor(link.nonce, kp.address);
  return { user, kp, link, message, signature: sign(message, kp.secretKey) };
}

/** Everything a verification may change, for "nothing changed" assertions. */
async function snapshot() {
  const [nonces, registrations, credentials] = await Promise.all([
    t.db.selectFrom('registration_nonces').selectAll().orderBy('id').execute(),
    t.db.selectFrom('wallet_registrations').selectAll().orderBy('id').execute(),
    t.db.selectFrom('chain_credentials').selectAll().orderBy('id').execute(),
  ]);
  // A failed signature attempt is counted on its nonce (failed_attempts): the one change a failure makes.
  return { nonces: nonces.map(({ failed_attempts: _counted, ...rest }) => rest), registrations, credentials };
}

async function expectRejected(run: () => Promise<unknown>, code: string, message: RegExp) {
  const before = await snapshot();
  await expect(run()).rejects.toMatchObject({ name: 'UserError', code, message: expect.stringMatching(message) });
  expect(await snapshot()).toEqual(before);
}

describe('createLink', () => {
  it('issues a ≥128-bit base58 nonce, a /link URL under PUBLIC_URL and the message template', async () => {
    const user = discordUser();
    const link = await wallets.createLink({ ...user, publicUrl: PUBLIC_URL });
    expect(bs58.decode(link.nonce)).toHaveLength(16);
    expect(link.url).toBe(`https://bot.example.com/link/${link.nonce}`);
    expect(link.exact).toBe(false);
    expect(link.message).toContain('bot.example.com wants you to sign in with your Solana account:\n<your wallet address>\n');
    expect(link.message).toContain(`Discord user @${user.username} (id ${user.discordId})`);
    expect(link.message).toContain(`Nonce: ${link.nonce}`);
    const row = await t.db.selectFrom('registration_nonces').selectAll().where('nonce', '=', link.nonce).executeTakeFirstOrThrow();
    expect(row.expires_at.getTime() - row.created_at.getTime()).toBe(10 * 60 * 1000);
    expect(link.message).toContain(`Issued At: ${row.created_at.toISOString()}\nExpiration Time: ${row.expires_at.toISOString()}`);
  });

  it('with an address, shows the exact message; a new link invalidates the older open one', async () => {
    const kp = keypair();
    const user = discordUser();
    const first = await wallets.createLink({ ...user, publicUrl: PUBLIC_URL });
    const second = await wallets.createLink({ ...user, publicUrl: PUBLIC_URL, address: kp.address });
    expect(second.invalidated).toBe(1);
    expect(second.exact).toBe(true);
    expect(second.message).toBe((await wallets.messageFor(second.nonce, kp.address)).message);
    await expect(wallets.messageFor(first.nonce, kp.address)).rejects.toMatchObject({ code: 'NONCE_SUPERSEDED' });
    const sig = sign((await wallets.createLink({ ...discordUser(), publicUrl: PUBLIC_URL })).message, kp.secretKey);
    await expectRejected(() => wallets.verify({ nonce: first.nonce, address: kp.address, signature: sig }), 'NONCE_SUPERSEDED', /replaced/);
  });

  it('sanitizes control characters out of display names', async () => {
    const link = await wallets.createLink({ discordId: '400000000000009999', username: 'evil\nNonce: 1111', publicUrl: PUBLIC_URL });
    expect(link.message.split('\n').filter((l) => l.startsWith('Nonce:'))).toHaveLength(1);
  });
});

describe('verify', () => {
  it('links the wallet: registration + chain credential + nonce consumed, in one go; notifies', async () => {
    const interaction = { appId: '500000000000000001', token: 'tok-1' };
    const { user, kp, link, message, signature } = await openLink(undefined, undefined, interaction);
    const linked = await wallets.verify({ nonce: link.nonce, address: kp.address, signature, ip: '10.0.0.1' });
    expect(linked).toMatchObject({ discordId: user.discordId, address: kp.address });

    const reg = await t.db
      .selectFrom('wallet_registrations')
      .innerJoin('users', 'users.id', 'wallet_registrations.user_id')
      .select(['address', 'message_data', 'discord_id', 'nonce'])
      .where('address', '=', kp.address)
      .executeTakeFirstOrThrow();
    expect(reg).toMatchObject({ discord_id: user.discordId, nonce: link.nonce });
    expect(reg.message_data).toEqual({ message, envelope: 'raw', signature, via: 'page' });
    const cred = await t.db.selectFrom('chain_credentials').selectAll().where('address', '=', kp.address).executeTakeFirstOrThrow();
    expect(cred.chain).toBe('solana');
    const nonce = await t.db.selectFrom('registration_nonces').selectAll().where('nonce', '=', link.nonce).executeTakeFirstOrThrow();
    expect(nonce.used_at).toBeInstanceOf(Date);
    expect(nonce.used_address).toBe(kp.address);
    await expect.poll(() => notified.find((e) => e.address === kp.address)).toEqual({
      discordId: user.discordId,
      address: kp.address,
      via: 'page',
      interaction,
    });
    expect((await wallets.status(user.discordId)).wallet?.address).toBe(kp.address);
  });

  it('a nonce verifies once: the second use is NONCE_USED and changes nothing', async () => {
    const { kp, link, signature } = await openLink();
    await wallets.verify({ nonce: link.nonce, address: kp.address, signature });
    await expectRejected(() => wallets.verify({ nonce: link.nonce, address: kp.address, signature }), 'NONCE_USED', /already used/);
  });

  it('concurrent verifications of one nonce: exactly one wins', async () => {
    const { kp, link, signature } = await openLink();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => wallets.verify({ nonce: link.nonce, address: kp.address, signature, ip: `10.1.0.${i}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'NONCE_USED' });
  });

  it('an expired nonce is NONCE_EXPIRED and changes nothing', async () => {
    const { kp, link, signature } = await openLink();
    await sql`UPDATE registration_nonces SET created_at = created_at - interval '11 minutes', expires_at = expires_at - interval '11 minutes'
              WHERE nonce = ${link.nonce}`.execute(t.db);
    await expectRejected(() => wallets.verify({ nonce: link.nonce, address: kp.address, signature }), 'NONCE_EXPIRED', /expired/);
  });

  it('unknown or malformed nonce is NONCE_UNKNOWN', async () => {
    const kp = keypair();
    const sig = sign('x', kp.secretKey);
    await expectRejected(() => wallets.verify({ nonce: bs58.encode(Buffer.alloc(16, 7)), address: kp.address, signature: sig }), 'NONCE_UNKNOWN', /Unknown link/);
    await expectRejected(() => wallets.verify({ nonce: "x' OR 1=1 --", address: kp.address, signature: sig }), 'NONCE_UNKNOWN', /Unknown link/);
  });

  it("another user's nonce via /wallet verify is NONCE_OTHER_USER", async () => {
    const { kp, link, signature } = await openLink();
    const mallory = discordUser();
    await wallets.createLink({ ...mallory, publicUrl: PUBLIC_URL });
    await expectRejected(
      () => wallets.verify({ nonce: link.nonce, address: kp.address, signature, discordId: mallory.discordId }),
      'NONCE_OTHER_USER',
      /another Discord account/,
    );
  });

  it('/wallet verify without a nonce uses the open one; without an open one says so', async () => {
    const { user, kp, signature } = await openLink();
    const linked = await wallets.verify({ address: kp.address, signature, discordId: user.discordId });
    expect(linked.address).toBe(kp.address);
    await expectRejected(() => wallets.verify({ address: kp.address, signature, discordId: user.discordId }), 'NO_OPEN_LINK', /\/wallet link first/);
  });

  it('malformed or wrong-length address and signature are rejected', async () => {
    type Opened = Awaited<ReturnType<typeof openLink>>;
    const cases: Array<[(o: Opened) => { address: string; signature: string }, RegExp, string]> = [
      [(o) => ({ address: `${o.kp.address.slice(0, -1)}0`, signature: o.signature }), /base58/, 'INVALID_ADDRESS'],
      [(o) => ({ address: bs58.encode(Buffer.alloc(31, 9)), signature: o.signature }), /31 bytes, not 32/, 'INVALID_ADDRESS'],
      [(o) => ({ address: o.kp.address, signature: 'this is *not* a signature' }), /not valid base58 or base64/, 'INVALID_SIGNATURE'],
      [(o) => ({ address: o.kp.address, signature: bs58.encode(bs58.decode(o.signature).subarray(0, 48)) }), /must be 64 bytes/, 'INVALID_SIGNATURE'],
    ];
    for (const [make, message, code] of cases) {
      const o = await openLink();
      await expectRejected(() => wallets.verify({ nonce: o.link.nonce, ...make(o) }), code, message);
    }
  });

  it('a signature by another key, or over a different text, is SIGNATURE_MISMATCH', async () => {
    const o = await openLink();
    const other = keypair();
    await expectRejected(
      () => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(o.message, other.secretKey) }),
      'SIGNATURE_MISMATCH',
      /does not match/,
    );
    const altered = o.message.replace('Solbound', 'Evilbound');
    await expectRejected(
      () => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(altered, o.kp.secretKey) }),
      'SIGNATURE_MISMATCH',
      /does not match/,
    );
    // A signature valid for another address (the message names the address) does not transfer either.
    const { message: otherMsg } = await wallets.messageFor(o.link.nonce, other.address);
    await expectRejected(
      () => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(otherMsg, other.secretKey) }),
      'SIGNATURE_MISMATCH',
      /does not match/,
    );
  });

  it('accepts base64 signatures and the Solana off-chain message envelope (CLI)', async () => {
    const a = await openLink();
    const b64 = Buffer.from(bs58.decode(a.signature)).toString('base64');
    await wallets.verify({ nonce: a.link.nonce, address: a.kp.address, signature: b64 });
    const b = await openLink();
    const envSig = sign(offchainMessageV0(Buffer.from(b.message)), b.kp.secretKey);
    await wallets.verify({ nonce: b.link.nonce, address: b.kp.address, signature: envSig });
    const reg = await t.db.selectFrom('wallet_registrations').select('message_data').where('address', '=', b.kp.address).executeTakeFirstOrThrow();
    expect(reg.message_data.envelope).toBe('offchain-v0');
  });

  it('an address linked to another user is ADDRESS_TAKEN; the nonce stays usable for another wallet', async () => {
    const first = await openLink();
    await wallets.verify({ nonce: first.link.nonce, address: first.kp.address, signature: first.signature });
    const second = await openLink(undefined, first.kp);
    await expectRejected(
      () => wallets.verify({ nonce: second.link.nonce, address: first.kp.address, signature: second.signature }),
      'ADDRESS_TAKEN',
      /already linked to another Discord account/,
    );
    const kp2 = keypair();
    const { message } = await wallets.messageFor(second.link.nonce, kp2.address);
    await wallets.verify({ nonce: second.link.nonce, address: kp2.address, signature: sign(message, kp2.secretKey) });
  });

  it('two users racing for one address: one wins, the other gets ADDRESS_TAKEN with its nonce untouched', async () => {
    const kp = keypair();
    const [a, b] = await Promise.all([openLink(undefined, kp), openLink(undefined, kp)]);
    const results = await Promise.allSettled([a, b].map((o) => wallets.verify({ nonce: o.link.nonce, address: kp.address, signature: o.signature })));
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const loser = results[0]!.status === 'rejected' ? a : b;
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'ADDRESS_TAKEN' });
    const row = await t.db.selectFrom('registration_nonces').select('used_at').where('nonce', '=', loser.link.nonce).executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();
  });

  it('re-linking replaces the wallet and its chain credential', async () => {
    const first = await openLink();
    await wallets.verify({ nonce: first.link.nonce, address: first.kp.address, signature: first.signature });
    const second = await openLink(first.user);
    const linked = await wallets.verify({ nonce: second.link.nonce, address: second.kp.address, signature: second.signature });
    expect(linked.replaced).toBe(first.kp.address);
    const creds = await t.db
      .selectFrom('chain_credentials')
      .innerJoin('users', 'users.id', 'chain_credentials.user_id')
      .select('address')
      .where('users.discord_id', '=', first.user.discordId)
      .execute();
    expect(creds).toEqual([{ address: second.kp.address }]);
  });
});

describe('rate limits: failures per source and per nonce, DB-backed; successes never count', () => {
  const failedAttempts = async (nonce: string) =>
    (await t.db.selectFrom('registration_nonces').select('failed_attempts').where('nonce', '=', nonce).executeTakeFirstOrThrow()).failed_attempts;
  const attemptsOf = async (subject: string) =>
    Number((await t.db.selectFrom('wallet_verify_attempts').select((eb) => eb.fn.countAll<bigint>().as('n')).where('subject', '=', subject).executeTakeFirstOrThrow()).n);

  it('per Discord user (/wallet verify): the 6th attempt after 5 failures is RATE_LIMITED and records nothing; the window slides', async () => {
    const o = await openLink();
    for (let i = 0; i < RATE_LIMIT_ATTEMPTS; i++) {
      await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: 'not a signature!', discordId: o.user.discordId })).rejects.toMatchObject({
        code: 'INVALID_SIGNATURE',
      });
    }
    const attemptsBefore = await t.db.selectFrom('wallet_verify_attempts').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    // Even the correct signature is refused now.
    await expectRejected(
      () => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, discordId: o.user.discordId }),
      'RATE_LIMITED',
      /at most 5 per 15 minutes\. Try again in \d+ (s|min)/,
    );
    const attemptsAfter = await t.db.selectFrom('wallet_verify_attempts').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    expect(attemptsAfter.n).toBe(attemptsBefore.n);
    // The window slides: once the attempts are older than 15 minutes, the user may try again.
    await sql`UPDATE wallet_verify_attempts SET attempted_at = attempted_at - interval '16 minutes'
              WHERE subject = ${`user:${o.user.discordId}`}`.execute(t.db);
    await wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, discordId: o.user.discordId });
  });

  it('per IP: five failures from one address block a sixth user from it, not from elsewhere', async () => {
    for (let i = 0; i < 5; i++) {
      const o = await openLink();
      await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign('x', o.kp.secretKey), ip: '10.3.0.1' })).rejects.toMatchObject({
        code: 'SIGNATURE_MISMATCH',
      });
    }
    const o = await openLink();
    await expectRejected(() => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, ip: '10.3.0.1' }), 'RATE_LIMITED', /Too many/);
    await wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, ip: '10.3.0.2' });
  });

  it('successes do not count: many links from one IP all succeed and leave no attempts behind', async () => {
    const ip = '10.4.0.1';
    const o = await openLink();
    await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign('x', o.kp.secretKey), ip })).rejects.toMatchObject({ code: 'SIGNATURE_MISMATCH' });
    for (let i = 0; i < RATE_LIMIT_ATTEMPTS + 2; i++) {
      const ok = await openLink();
      await wallets.verify({ nonce: ok.link.nonce, address: ok.kp.address, signature: ok.signature, ip });
    }
    expect(await attemptsOf(`ip:${ip}`)).toBe(1);
    await wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, ip });
    expect(await attemptsOf(`ip:${ip}`)).toBe(1);
  });

  it("an attacker's failures from another IP never block the owner's correct signature", async () => {
    const o = await openLink();
    const attacker = keypair();
    // Guesses at the owner's nonce, one short of burning it, then the attacker's IP runs out of tries…
    for (let i = 0; i < NONCE_FAILURE_LIMIT - 1; i++) {
      await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(o.message, attacker.secretKey), ip: '203.0.113.66' })).rejects.toMatchObject({
        code: 'SIGNATURE_MISMATCH',
      });
    }
    await expect(wallets.verify({ nonce: bs58.encode(Buffer.alloc(16, 3)), address: o.kp.address, signature: o.signature, ip: '203.0.113.66' })).rejects.toMatchObject({
      code: 'NONCE_UNKNOWN',
    });
    // …and a limited IP no longer reaches the nonce at all.
    await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(o.message, attacker.secretKey), ip: '203.0.113.66' })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    expect(await failedAttempts(o.link.nonce)).toBe(NONCE_FAILURE_LIMIT - 1);
    // The owner's own IP and Discord account carry none of it.
    expect(await attemptsOf(`user:${o.user.discordId}`)).toBe(0);
    const linked = await wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, ip: '198.51.100.20' });
    expect(linked.address).toBe(o.kp.address);
  });

  it('a nonce that has seen 5 failures (from any IPs) is burned: even the right signature is refused; a new link works', async () => {
    const o = await openLink();
    for (let i = 0; i < NONCE_FAILURE_LIMIT; i++) {
      await expect(wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign('x', o.kp.secretKey), ip: `10.5.0.${i}` })).rejects.toMatchObject({
        code: 'SIGNATURE_MISMATCH',
      });
    }
    expect(await failedAttempts(o.link.nonce)).toBe(NONCE_FAILURE_LIMIT);
    await expectRejected(
      () => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature, ip: '10.5.0.99' }),
      'NONCE_BURNED',
      /locked after 5 failed signature attempts\. Run \/wallet link/,
    );
    await expect(wallets.linkInfo(o.link.nonce)).rejects.toMatchObject({ code: 'NONCE_BURNED' });
    expect(await failedAttempts(o.link.nonce)).toBe(NONCE_FAILURE_LIMIT);
    const fresh = await openLink(o.user, o.kp);
    await wallets.verify({ nonce: fresh.link.nonce, address: o.kp.address, signature: fresh.signature, ip: '10.5.0.99' });
  });

  it('concurrent failures on one nonce never exceed the limit', async () => {
    const o = await openLink();
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: sign(`x${i}`, o.kp.secretKey), ip: `10.6.0.${i}` })),
    );
    const codes = results.map((r) => (r as PromiseRejectedResult).reason.code as string);
    expect(codes.filter((c) => c === 'SIGNATURE_MISMATCH')).toHaveLength(NONCE_FAILURE_LIMIT);
    expect(codes.filter((c) => c === 'NONCE_BURNED')).toHaveLength(12 - NONCE_FAILURE_LIMIT);
    expect(await failedAttempts(o.link.nonce)).toBe(NONCE_FAILURE_LIMIT);
  });

  it('a correct signature for a taken address gives its nonce attempt back', async () => {
    const first = await openLink();
    await wallets.verify({ nonce: first.link.nonce, address: first.kp.address, signature: first.signature });
    const second = await openLink(undefined, first.kp);
    await expect(wallets.verify({ nonce: second.link.nonce, address: first.kp.address, signature: second.signature, ip: '10.7.0.1' })).rejects.toMatchObject({
      code: 'ADDRESS_TAKEN',
    });
    expect(await failedAttempts(second.link.nonce)).toBe(0);
    expect(await attemptsOf('ip:10.7.0.1')).toBe(0);
  });
});

describe('/wallet link cooldown', () => {
  it(`at most ${LINK_LIMIT} links per 10 minutes per user: the next one says when to retry and changes nothing`, async () => {
    const user = discordUser();
    const links = [];
    for (let i = 0; i < LINK_LIMIT; i++) links.push(await wallets.createLink({ ...user, publicUrl: PUBLIC_URL }));
    await expectRejected(
      () => wallets.createLink({ ...user, publicUrl: PUBLIC_URL }),
      'LINK_COOLDOWN',
      /^You asked for 3 wallet links in the last 10 minutes; try again in \d+ (s|min)\. Your newest link still works/,
    );
    // The newest link was not invalidated by the refused request.
    expect((await wallets.linkInfo(links.at(-1)!.nonce)).discordUsername).toBe(user.username);
    // Other users are unaffected; once the oldest link leaves the window, the user may ask again.
    await wallets.createLink({ ...discordUser(), publicUrl: PUBLIC_URL });
    await sql`UPDATE registration_nonces SET created_at = created_at - interval '11 minutes', expires_at = expires_at - interval '11 minutes'
              WHERE nonce = ${links[0]!.nonce}`.execute(t.db);
    await wallets.createLink({ ...user, publicUrl: PUBLIC_URL });
  });

  it('holds under concurrency (the count is taken under a per-user lock in PostgreSQL)', async () => {
    const user = discordUser();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => wallets.createLink({ ...user, publicUrl: PUBLIC_URL })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(LINK_LIMIT);
    for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'LINK_COOLDOWN' });
  });
});

describe('strict Ed25519 at the service', () => {
  it('the all-zero address with a forged signature (that OpenSSL alone accepts) is refused and nothing is registered', async () => {
    const zeroAddress = bs58.encode(new Uint8Array(32));
    // Each link has its own nonce and so its own message; about 2 in 3 admit a forgery, so a few links suffice.
    let forged: { nonce: string; signature: string; message: string } | undefined;
    for (let i = 0; !forged && i < 30; i++) {
      const link = await wallets.createLink({ ...discordUser(), publicUrl: PUBLIC_URL });
      const message = link.message.replace(ADDRESS_PLACEHOLDER, zeroAddress);
      const sig = forgeForZeroKey(Buffer.from(message, 'utf8'));
      if (sig) forged = { nonce: link.nonce, signature: bs58.encode(sig), message };
    }
    expect(forged).toBeDefined();
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.alloc(32).toString('base64url') }, format: 'jwk' });
    expect(nodeVerify(null, Buffer.from(forged!.message, 'utf8'), key, bs58.decode(forged!.signature))).toBe(true);

    await expectRejected(
      () => wallets.verify({ nonce: forged!.nonce, address: zeroAddress, signature: forged!.signature, ip: '10.8.0.1' }),
      'WEAK_ADDRESS',
      /not a usable Ed25519 public key/,
    );
    expect(await t.db.selectFrom('wallet_registrations').selectAll().where('address', '=', zeroAddress).execute()).toEqual([]);
    expect(await t.db.selectFrom('chain_credentials').selectAll().where('address', '=', zeroAddress).execute()).toEqual([]);
    await expect(wallets.messageFor(forged!.nonce, zeroAddress)).rejects.toMatchObject({ code: 'WEAK_ADDRESS' });
    await expect(wallets.createLink({ ...discordUser(), publicUrl: PUBLIC_URL, address: zeroAddress })).rejects.toMatchObject({ code: 'WEAK_ADDRESS' });
  });
});

describe('status and unlink', () => {
  it('status shows the pending link, then the wallet; unlink removes registration and credential', async () => {
    const o = await openLink();
    expect(await wallets.status(o.user.discordId)).toEqual({ pendingLink: { nonce: o.link.nonce, expiresAt: o.link.expiresAt } });
    await wallets.verify({ nonce: o.link.nonce, address: o.kp.address, signature: o.signature });
    expect((await wallets.status(o.user.discordId)).wallet?.address).toBe(o.kp.address);

    await expectRejected(() => wallets.unlink(o.user.discordId, keypair().address), 'WALLET_CHANGED', /now/);
    expect(await wallets.unlink(o.user.discordId, o.kp.address)).toEqual({ address: o.kp.address });
    expect(await wallets.status(o.user.discordId)).toEqual({});
    expect(await t.db.selectFrom('chain_credentials').selectAll().where('address', '=', o.kp.address).execute()).toEqual([]);
    await expectRejected(() => wallets.unlink(o.user.discordId), 'NO_WALLET', /no linked wallet/);
    await expectRejected(() => wallets.unlink('400000000000008888'), 'NO_WALLET', /no linked wallet/);
  });
});

describe('cleanup', () => {
  it('deletes nonces expired longer than the grace period, in batches, and old attempts', async () => {
    const fresh = await openLink();
    const old = await Promise.all(Array.from({ length: 7 }, () => openLink()));
    await sql`UPDATE registration_nonces SET created_at = created_at - interval '3 hours', expires_at = expires_at - interval '3 hours'
              WHERE nonce IN (${sql.join(old.map((o) => o.link.nonce))})`.execute(t.db);
    const factory = new Factory(t.db);
    await factory.verifyAttempt('ip:old', { ageSeconds: 3600 });
    await factory.verifyAttempt('ip:new');
    const batches: number[] = [];
    const r = await wallets.cleanup({ batchSize: 3, onBatch: (n) => batches.push(n) });
    expect(r.nonces).toBeGreaterThanOrEqual(7);
    expect(batches.every((n) => n <= 3)).toBe(true);
    expect(r.batches).toBe(batches.length);
    const left = await t.db.selectFrom('registration_nonces').select('nonce').where('nonce', 'in', [fresh.link.nonce, ...old.map((o) => o.link.nonce)]).execute();
    expect(left).toEqual([{ nonce: fresh.link.nonce }]);
    const subjects = (await t.db.selectFrom('wallet_verify_attempts').select('subject').where('subject', 'in', ['ip:old', 'ip:new']).execute()).map((r) => r.subject);
    expect(subjects).toEqual(['ip:new']);
  });
});
