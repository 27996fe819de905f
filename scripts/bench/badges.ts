// Trust-badge benchmarks, ratios in one run, on a throwaway embedded PostgreSQL and the Solana emulator:
//  - badge mints/s through the chain path (sign → send → confirm), sequential and 10 concurrent, against plain SOL
//    transfers through the same path (same signer, same send/confirm code) → ratio;
//  - full /badge claim (checks, DB rows, outbox, chain) per second, sequential and 10 concurrent;
//  - lamports per badge (rent + fees), measured from the issuer's balance;
//  - reputation recompute of N users (default 100,000) with tips, tickets and ratings. Target: < 5 s.
//   tsx scripts/bench/badges.ts [--mints 40] [--users 100000]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { createServices } from '../../src/app';
import { badgeMintRent, buildBadgeMintInstructions, signIssuerTransaction } from '../../src/chain/badge-mint';
import { buildTransferInstructions, confirmSignature, getLatestBlockhash, sendRaw } from '../../src/chain/transfers';
import { generateTreasury, type Treasury } from '../../src/chain/treasury';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { startSolanaEmulator } from '../../src/emulators/solana/solana-emulator';
import { createLogger } from '../../src/logger';

const { values } = parseArgs({ options: { mints: { type: 'string', default: '40' }, users: { type: 'string', default: '100000' } } });
const MINTS = Number(values.mints);
const USERS = Number(values.users);
const out = (line: string) => process.stdout.write(`${line}\n`);
const log = createLogger('silent');
const newAddress = () => generateTreasury().treasury.publicKey;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function rate(n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await pool([...Array(n).keys()], concurrency, one);
  return n / ((performance.now() - t0) / 1000);
}

const emu = await startSolanaEmulator();
const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-badges-'));
const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), log, flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] });
const db = createDb(createPool(pg.url, 12));
try {
  await migrateToLatest(db);
  out(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const { treasury: issuer, secretJson } = generateTreasury();
  emu.fund(issuer.publicKey, 1_000_000_000_000n);
  const config = parseConfig({ LOG_LEVEL: 'silent', DATABASE_URL: pg.url, SOLANA_RPC_URL: emu.rpcUrl, SOLANA_WS_URL: emu.wsUrl, BADGE_ISSUER_SECRET_KEY: secretJson, BADGE_MIN_TIER: 'none', PUBLIC_URL: 'https://bot.example.com' });
  const services = createServices(db, undefined, config, log);
  const conn = services.chain.connection;

  // ---- chain path: badge mint tx vs plain SOL transfer, same signer / send / confirm
  const meta = { name: 'Solbound Trust Badge', symbol: 'SBTRUST', uri: `https://bot.example.com/badges/${'x'.repeat(44)}.json` };
  const rent = await badgeMintRent(conn, meta);
  let badgeSeq = 1_000_000n;
  const land = async (signer: Treasury, ixs: Parameters<typeof signIssuerTransaction>[1]) => {
    const signed = signIssuerTransaction(signer, ixs, await getLatestBlockhash(conn));
    await sendRaw(conn, signed.serialized);
    const r = await confirmSignature(conn, signed);
    if (r.status !== 'confirmed' || r.err !== null) throw new Error(`not confirmed: ${JSON.stringify(r)}`);
  };
  const mintOne = () =>
    land(issuer, buildBadgeMintInstructions(issuer.publicKey, { ...meta, badgeId: badgeSeq++, owner: newAddress(), mintLamports: rent, fields: { reputation: '0450', tier: 'silver', discord: 'f'.repeat(32) } }));
  const transferOne = () => land(issuer, buildTransferInstructions({ from: issuer.publicKey, recipient: newAddress(), amount: 1_000_000n }));
  await mintOne();
  await transferOne();
  const before = emu.balance(issuer.publicKey);
  const mintSeq = await rate(MINTS, 1, mintOne);
  const perBadge = (before - emu.balance(issuer.publicKey)) / BigInt(MINTS);
  const mintConc = await rate(MINTS, 10, mintOne);
  const xferSeq = await rate(MINTS, 1, transferOne);
  const xferConc = await rate(MINTS, 10, transferOne);
  out(`chain path, sequential:    badge mints ${mintSeq.toFixed(1)}/s · SOL transfers ${xferSeq.toFixed(1)}/s · ratio ${(mintSeq / xferSeq).toFixed(2)}`);
  out(`chain path, 10 concurrent: badge mints ${mintConc.toFixed(1)}/s · SOL transfers ${xferConc.toFixed(1)}/s · ratio ${(mintConc / xferConc).toFixed(2)}`);
  out(`lamports per badge (mint rent for the widest metadata + holder account rent + fee): ${perBadge} (${(Number(perBadge) / 1e9).toFixed(6)} SOL)`);

  // ---- full claims through the service
  const members = await db
    .insertInto('users')
    .values(Array.from({ length: MINTS * 2 }, (_, i) => ({ discord_id: `77${String(i).padStart(16, '0')}`, username: `claim${i}` })))
    .returning(['id', 'discord_id', 'username'])
    .execute();
  for (const m of members) {
    const address = newAddress();
    await db.insertInto('wallet_registrations').values({ user_id: m.id, address, nonce: `bench-${m.id}`, message_data: JSON.stringify({ message: 'bench', envelope: 'raw', signature: 'bench', via: 'command' }) }).execute();
    await services.badges.acceptTerms({ discordId: m.discord_id, username: m.username }, config.BADGE_TERMS_VERSION);
  }
  const claim = (i: number) => services.badges.claim({ discordId: members[i]!.discord_id, username: members[i]!.username });
  const claimSeq = await rate(MINTS, 1, (i) => claim(i));
  const claimConc = await rate(MINTS, 10, (i) => claim(MINTS + i));
  const active = await db.selectFrom('trust_badges').select((eb) => eb.fn.countAll<string>().as('n')).where('status', '=', 'active').executeTakeFirstOrThrow();
  out(`/badge claim end to end:   sequential ${claimSeq.toFixed(1)}/s · 10 concurrent ${claimConc.toFixed(1)}/s (${active.n} active badges)`);

  // ---- reputation recompute
  await sql`INSERT INTO users (discord_id, username, created_at)
            SELECT '66' || lpad(g::text, 16, '0'), 'rep' || g, now() - (g % 500) * interval '1 day' FROM generate_series(1, ${USERS}) g`.execute(db);
  const ids = sql`(SELECT min(id) FROM users WHERE discord_id LIKE '66%')`;
  await sql`INSERT INTO wallet_registrations (user_id, address, nonce, message_data, verified_at)
            SELECT id, 'addr' || id, 'n' || id, '{}'::jsonb, now() - (id % 200) * interval '1 day' FROM users WHERE discord_id LIKE '66%' AND id % 2 = 0`.execute(db);
  await sql`INSERT INTO tips (interaction_id, leg, kind, sender_id, receiver_id, amount, currency)
            SELECT 'bench' || g, 0, 'tip', ${ids} + (g % ${USERS}), ${ids} + ((g * 7 + 1) % ${USERS}), 1000, 'SOL'
            FROM generate_series(1, ${USERS * 3}) g WHERE (g % ${USERS}) <> ((g * 7 + 1) % ${USERS})`.execute(db);
  await sql`INSERT INTO ratings (rater_id, ratee_id, score, period)
            SELECT ${ids} + (g % ${USERS}), ${ids} + ((g * 13 + 5) % ${USERS}), 1 + g % 5, '2026-11'
            FROM generate_series(1, ${USERS / 2}) g WHERE (g % ${USERS}) <> ((g * 13 + 5) % ${USERS}) ON CONFLICT DO NOTHING`.execute(db);
  await sql`ANALYZE`.execute(db);
  const t0 = performance.now();
  const rescored = await services.badges.recompute();
  const first = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const unchanged = await services.badges.recompute();
  const second = (performance.now() - t1) / 1000;
  out(`reputation recompute: ${rescored} users scored in ${first.toFixed(2)} s (target < 5 s); a re-run with nothing changed: ${second.toFixed(2)} s (${unchanged} rows written)`);
} finally {
  await db.destroy();
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
  await emu.close();
}
