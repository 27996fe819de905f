// Membership job benchmarks, in one run on a throwaway embedded PostgreSQL and the Discord emulator:
//  - subscription-expiry: N (default 100,000) due subscriptions expired by one job run (through the job runner, so
//    under its advisory lock), role removals queued. Targets: < 5 s, and no row lock held > 100 ms — measured by a
//    concurrent probe that UPDATEs random subscription rows (half anywhere, half at the front of what is due) with
//    lock_timeout and records how long each waited. Compared in the same run with a plain `UPDATE` of the same rows
//    (in a transaction rolled back afterwards, then VACUUM), with the same probe running → time ratio and lock waits.
//  - roles revoked per second through the emulator with Discord's rate limits on (5 per 5 s per route and guild,
//    50/s global), over G guilds × M members, by the role outbox drain with the real discord.js client.
// Exits non-zero when a target is missed.
//   tsx scripts/bench/subscriptions.ts [--subs 100000] [--guilds 10] [--members 10]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import type { AppContext } from '../../src/app-context';
import { createServices } from '../../src/app';
import { parseConfig } from '../../src/config';
import { createDb, createPool } from '../../src/db/database';
import { freePort, startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { migrateToLatest } from '../../src/db/migrator';
import type { DB } from '../../src/db/schema';
import { createDiscordClient, loginDiscordClient } from '../../src/discord/discord-client';
import { startDiscordEmulator } from '../../src/emulators/discord/discord-emulator';
import { JobRunner } from '../../src/jobs/job-runner';
import { createLogger } from '../../src/logger';
import { billingJobs } from '../../src/modules/billing/billing-jobs.job';
import { billingRolesDiscord } from '../../src/modules/billing/billing-roles.discord';
import { drainRoleOutbox } from '../../src/modules/billing/billing.role-sync';

const { values } = parseArgs({ options: { subs: { type: 'string', default: '100000' }, guilds: { type: 'string', default: '10' }, members: { type: 'string', default: '10' } } });
const SUBS = Number(values.subs);
const GUILDS = Number(values.guilds);
const MEMBERS = Number(values.members);
const TARGET_MS = 5_000;
const LOCK_TARGET_MS = 100;
const out = (line: string) => process.stdout.write(`${line}\n`);
const log = createLogger('silent');
const GUILD = '990000000000000001';
const ROLE = '991000000000000001';
let missed = 0;
const check = (ok: boolean, what: string) => {
  out(`${ok ? 'ok  ' : 'MISS'} ${what}`);
  if (!ok) missed++;
};

interface ProbeStats {
  probes: number;
  maxWaitMs: number;
  p99Ms: number;
  over100: number;
  timeouts: number;
}

/** Updates random subscription rows until stopped, one statement at a time, and records each one's wait. */
function startProbe(db: Kysely<DB>, ids: { min: number; max: number }): { stop(): Promise<ProbeStats> } {
  let running = true;
  const waits: number[] = [];
  let timeouts = 0;
  const loop = db.connection().execute(async (conn) => {
    await sql`SET lock_timeout = '10s'`.execute(conn);
    for (let i = 0; running; i++) {
      // Every other probe aims at the front of what is still due: the rows the job is about to lock.
      const front = i % 2 === 1;
      const t0 = performance.now();
      try {
        if (front) {
          await sql`UPDATE billing_subscriptions SET auto_renew = auto_renew
            WHERE id = (SELECT id FROM billing_subscriptions WHERE status = 'ACTIVE' ORDER BY expires_at OFFSET ${Math.floor(Math.random() * 500)} LIMIT 1)`.execute(conn);
        } else {
          const id = ids.min + Math.floor(Math.random() * (ids.max - ids.min + 1));
          await sql`UPDATE billing_subscriptions SET auto_renew = auto_renew WHERE id = ${id}`.execute(conn);
        }
        waits.push(performance.now() - t0);
      } catch {
        timeouts++;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  });
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = [...waits].sort((a, b) => a - b);
      return {
        probes: waits.length,
        maxWaitMs: sorted.at(-1) ?? 0,
        p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
        over100: waits.filter((w) => w > LOCK_TARGET_MS).length,
        timeouts,
      };
    },
  };
}

const fmt = (s: ProbeStats) => `${s.probes} probes, max wait ${s.maxWaitMs.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, ${s.over100} over ${LOCK_TARGET_MS} ms, ${s.timeouts} timeouts`;

async function seed(db: Kysely<DB>): Promise<{ min: number; max: number }> {
  await sql`INSERT INTO users (discord_id, username) SELECT (800000000000000000 + g)::text, 'bench' || g FROM generate_series(1, ${SUBS}) g`.execute(db);
  const plan = await db
    .insertInto('billing_plans')
    .values({ guild_id: GUILD, code: 'bench', name: 'Bench', role_id: ROLE, created_by: '1' } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  // Due over the last day, in random order of id, as real expiries are.
  await sql`
    INSERT INTO billing_subscriptions (guild_id, user_id, plan_id, cycle, currency, active_since, expires_at)
    SELECT ${GUILD}, u.id, ${plan.id}, 'month', 'SOL', now() - interval '31 days', now() - random() * interval '1 day'
    FROM users u WHERE u.username LIKE 'bench%'`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
  const r = await sql<{ min: string; max: string }>`SELECT min(id)::text AS min, max(id)::text AS max FROM billing_subscriptions`.execute(db);
  return { min: Number(r.rows[0]!.min), max: Number(r.rows[0]!.max) };
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'solbound-bench-subs-'));
const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), log, flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off'] });
const db = createDb(createPool(pg.url, 8));
try {
  await migrateToLatest(db);
  out(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const config = parseConfig({ LOG_LEVEL: 'silent', DATABASE_URL: pg.url, HTTP_PORT: '0' });
  const ids = await seed(db);
  out(`seeded ${SUBS} due subscriptions`);

  // ---- plain UPDATE of the same rows, rolled back (the probe shows its lock held for the whole statement)
  let probe = startProbe(db, ids);
  await new Promise((r) => setTimeout(r, 200));
  let plainMs = 0;
  let plainRows = 0;
  await db
    .transaction()
    .execute(async (trx) => {
      const t0 = performance.now();
      const r = await sql`UPDATE billing_subscriptions SET status = 'EXPIRED', inactive_since = now() WHERE status = 'ACTIVE' AND expires_at <= now()`.execute(trx);
      plainMs = performance.now() - t0;
      plainRows = Number(r.numAffectedRows ?? 0n);
      throw new Error('rollback');
    })
    .catch((err: unknown) => {
      if (!(err instanceof Error && err.message === 'rollback')) throw err;
    });
  const plainProbe = await probe.stop();
  await sql`VACUUM ANALYZE billing_subscriptions`.execute(db);
  out(`plain UPDATE: ${plainRows} rows in ${plainMs.toFixed(0)} ms (rolled back); probe: ${fmt(plainProbe)}`);

  // ---- the subscription-expiry job, through the job runner
  const ctx: AppContext = { config, log, db, services: createServices(db, undefined, config, log), effects: {} };
  const runner = new JobRunner(ctx, billingJobs);
  probe = startProbe(db, ids);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  const outcome = await runner.runNow('subscription-expiry');
  const jobMs = performance.now() - t0;
  const jobProbe = await probe.stop();
  if (outcome.status !== 'ok') throw new Error(`subscription-expiry ${outcome.status}`);
  const result = outcome.result as { expired: number; batches: number; maxBatchMs: number };
  const queued = await db.selectFrom('billing_role_changes').select((eb) => eb.fn.countAll<string>().as('n')).where('op', '=', 'remove').executeTakeFirstOrThrow();
  out(`subscription-expiry: ${result.expired} expired in ${jobMs.toFixed(0)} ms, ${result.batches} batches, longest batch ${result.maxBatchMs.toFixed(1)} ms; ${queued.n} role removals queued`);
  out(`  probe: ${fmt(jobProbe)}`);
  out(`  ratio job / plain UPDATE: ${(jobMs / plainMs).toFixed(2)}x time; longest lock ${result.maxBatchMs.toFixed(0)} ms vs ${plainMs.toFixed(0)} ms`);
  check(result.expired === SUBS && Number(queued.n) === SUBS, `every due subscription expired with its removal queued (${result.expired}/${SUBS})`);
  check(jobMs < TARGET_MS, `expiry run ${jobMs.toFixed(0)} ms < ${TARGET_MS} ms`);
  check(result.maxBatchMs < LOCK_TARGET_MS && jobProbe.maxWaitMs < LOCK_TARGET_MS, `no row lock held > ${LOCK_TARGET_MS} ms (longest batch ${result.maxBatchMs.toFixed(1)} ms, probe max wait ${jobProbe.maxWaitMs.toFixed(1)} ms)`);

  // ---- roles revoked per second through the emulator, Discord's rate limits on
  await sql`UPDATE billing_role_changes SET done_at = now() WHERE done_at IS NULL`.execute(db);
  const emu = await startDiscordEmulator({ rateLimits: true, specConformance: false });
  const guilds = Array.from({ length: GUILDS }, (_, g) => (g === 0 ? emu.guild : emu.addGuild(`bench-${g}`)));
  const rows: Array<{ guild_id: string; discord_id: string; role_id: string }> = [];
  const roles = guilds.map((guild, g) =>
    emu.inGuild(guild, () => {
      const role = emu.role(`Member ${g}`);
      for (let m = 0; m < MEMBERS; m++) rows.push({ guild_id: guild.id, discord_id: emu.user(`m${g}-${m}`, { roles: [role] }).id, role_id: role.id });
      return role;
    }),
  );
  const client = createDiscordClient({ token: emu.token, apiUrl: emu.apiUrl });
  try {
    await loginDiscordClient(client);
    await sql`INSERT INTO users (discord_id, username) SELECT unnest(${rows.map((r) => r.discord_id)}::text[]), 'member' ON CONFLICT DO NOTHING`.execute(db);
    await sql`
      INSERT INTO billing_role_changes (guild_id, user_id, role_id, op, reason)
      SELECT r.guild_id, u.id, r.role_id, 'remove', 'bench'
      FROM unnest(${rows.map((r) => r.guild_id)}::text[], ${rows.map((r) => r.discord_id)}::text[], ${rows.map((r) => r.role_id)}::text[]) AS r(guild_id, discord_id, role_id)
      JOIN users u ON u.discord_id = r.discord_id`.execute(db);
    const roleCtx = { ...ctx, effects: { billingRoles: billingRolesDiscord({ client, log }) } };
    const r0 = performance.now();
    const drained = await drainRoleOutbox(roleCtx, { concurrency: GUILDS });
    const secs = (performance.now() - r0) / 1000;
    const held = guilds.reduce((n, guild, g) => n + [...guild.members.values()].filter((m) => m.roleIds.has(roles[g]!.id)).length, 0);
    const limited = emu.requests.filter((r) => r.status === 429).length;
    out(`roles revoked through the emulator (rate limits on): ${drained.applied} in ${secs.toFixed(1)} s = ${(drained.applied / secs).toFixed(1)}/s over ${GUILDS} guilds (${limited} answers were 429)`);
    check(drained.applied === rows.length && held === 0 && drained.failed === 0, `every role revoked (${drained.applied}/${rows.length}, ${held} still held)`);
  } finally {
    await client.destroy();
    await emu.close();
  }
} finally {
  await db.destroy();
  await pg.stop();
  await rm(dataDir, { recursive: true, force: true });
}
out(missed ? `${missed} target(s) missed` : 'all targets met');
process.exit(missed ? 1 : 0);
