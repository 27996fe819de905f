// Wallet-link benchmarks: Ed25519 verifies/s (node:crypto vs tweetnacl, same run, same vectors) and the nonce
// cleanup of 1M rows on a throwaway embedded PostgreSQL.
//   tsx scripts/bench/wallet-verify.ts [--seconds 3] [--rows 1000000] [--skip-db]
// Target (DESIGN §8): ≥ 5,000 signature verifies/s on one core.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import bs58 from 'bs58';
import { sql } from 'kysely';
import nacl from 'tweetnacl';
import { createDb, createPool } from '../../src/db/database';
import { startEmbeddedPostgres, freePort } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import { createLogger } from '../../src/logger';
import { buildLinkMessage } from '../../src/modules/wallets/link-message';
import { decodeAddress, decodeSignature, verifyEd25519 } from '../../src/modules/wallets/wallet-crypto';
import { WalletsService } from '../../src/modules/wallets/wallets.service';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rows: { type: 'string', default: '1000000' },
    'skip-db': { type: 'boolean', default: false },
  },
});
const out = (line: string) => process.stdout.write(`${line}\n`);

// ---------------------------------------------------------------- verifies/s

// Realistic inputs: the real link message (≈450 bytes) signed by distinct keys, as the API receives them.
const VECTORS = 256;
const vectors = Array.from({ length: VECTORS }, (_, i) => {
  const kp = nacl.sign.keyPair();
  const address = bs58.encode(kp.publicKey);
  const message = Buffer.from(
    buildLinkMessage({
      baseUrl: 'https://bot.example.com',
      address,
      discordId: `9000000000000${String(i).padStart(5, '0')}`,
      discordUsername: `bench${i}`,
      nonce: bs58.encode(randomBytes(16)),
      issuedAt: new Date(),
      expiresAt: new Date(Date.now() + 600_000),
    }),
  );
  const sig = nacl.sign.detached(message, kp.secretKey);
  return { message, sig, pub: kp.publicKey, address, sigB58: bs58.encode(sig) };
});

function measure(name: string, verifyOne: (v: (typeof vectors)[number]) => boolean): number {
  // Warm-up (JIT) outside the timed window.
  for (let i = 0; i < 200; i++) if (!verifyOne(vectors[i % VECTORS]!)) throw new Error(`${name}: a valid vector failed`);
  const seconds = Number(values.seconds);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < seconds * 1000) {
    for (let i = 0; i < 100; i++, n++) if (!verifyOne(vectors[n % VECTORS]!)) throw new Error(`${name}: a valid vector failed`);
  }
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const perSec = n / wall;
  out(`${name.padEnd(44)} ${Math.round(perSec).toLocaleString('en-US').padStart(9)} verifies/s wall   ` +
      `${Math.round(n / cpuSeconds).toLocaleString('en-US').padStart(9)} /CPU-s   (${n} in ${wall.toFixed(2)} s)`);
  return perSec;
}

out(`node ${process.version}, ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; single thread`);
const nodeRate = measure('node:crypto verify (JWK key import per call)', (v) => verifyEd25519(v.message, v.sig, v.pub));
measure('node:crypto, full input path (decode b58 + verify)', (v) =>
  decodeSignature(v.sigB58).some((s) => verifyEd25519(v.message, s, decodeAddress(v.address))),
);
const naclRate = measure('tweetnacl nacl.sign.detached.verify', (v) => nacl.sign.detached.verify(v.message, v.sig, v.pub));
out(`node:crypto / tweetnacl: ${(nodeRate / naclRate).toFixed(1)}×; target ≥ 5,000/s: ${nodeRate >= 5000 ? 'MET' : 'NOT MET'}`);

// ---------------------------------------------------------------- nonce cleanup

if (!values['skip-db']) {
  const rows = Number(values.rows);
  const log = createLogger('warn', 'bench-pg');
  const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-pg-'));
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), log, flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] });
  const db = createDb(createPool(pg.url, 4));
  try {
    await migrateToLatest(db);
    const user = await db.insertInto('users').values({ discord_id: '900000000000000001', username: 'bench' }).returning('id').executeTakeFirstOrThrow();
    const t0 = performance.now();
    // Dead rows: expired hours ago, half of them used; plus 10,000 live ones that must survive.
    await sql`
      INSERT INTO registration_nonces (nonce, user_id, discord_id, discord_username, base_url, created_at, expires_at, used_at)
      SELECT 'dead' || g, ${user.id}, '900000000000000001', 'bench', 'https://bot.example.com',
             now() - interval '3 hours', now() - interval '2 hours 50 minutes',
             CASE WHEN g % 2 = 0 THEN now() - interval '2 hours 55 minutes' END
      FROM generate_series(1, ${rows}) g`.execute(db);
    await sql`
      INSERT INTO registration_nonces (nonce, user_id, discord_id, discord_username, base_url, expires_at, invalidated_at)
      SELECT 'live' || g, ${user.id}, '900000000000000001', 'bench', 'https://bot.example.com', now() + interval '10 minutes', now()
      FROM generate_series(1, 10000) g`.execute(db);
    await sql`VACUUM ANALYZE registration_nonces`.execute(db);
    out(`\nseeded ${rows.toLocaleString('en-US')} dead + 10,000 live nonces in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const batchMs: number[] = [];
    let last = performance.now();
    const started = performance.now();
    const result = await new WalletsService(db).cleanup({
      onBatch: () => {
        const now = performance.now();
        batchMs.push(now - last);
        last = now;
      },
    });
    const total = (performance.now() - started) / 1000;
    const left = await db.selectFrom('registration_nonces').select((eb) => eb.fn.countAll<bigint>().as('n')).executeTakeFirstOrThrow();
    batchMs.sort((a, b) => a - b);
    const p = (q: number) => batchMs[Math.min(batchMs.length - 1, Math.floor(q * batchMs.length))]!.toFixed(1);
    out(`cleanup: deleted ${result.nonces.toLocaleString('en-US')} in ${result.batches} batches of ≤5,000, ${total.toFixed(2)} s ` +
        `(${Math.round(result.nonces / total).toLocaleString('en-US')} rows/s); per batch p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`);
    out(`left: ${left.n} rows (expected 10000)`);
    if (Number(left.n) !== 10000 || result.nonces !== rows) throw new Error('cleanup deleted the wrong rows');
  } finally {
    await db.destroy();
    await pg.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
