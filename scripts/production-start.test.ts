import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDb, createPool, withDatabase } from '../src/db/database';
import { freePort, isAlive } from '../src/db/embedded-postgres';
import { spawnChild } from '../src/testing/child-process';

const ROOT = resolve(import.meta.dirname, '..');
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** An empty database on the test server: the build's own migrations have to create everything. */
async function emptyDatabase(): Promise<string> {
  const server = inject('pgUrl');
  const name = `build_${process.pid}_${Date.now()}`;
  const admin = createDb(createPool(server, 1));
  await sql.raw(`CREATE DATABASE ${name}`).execute(admin);
  cleanups.push(async () => {
    await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin);
    await admin.destroy();
  });
  return withDatabase(server, name);
}

describe('production start', () => {
  it('`npm run build` compiles to JavaScript that `node dist/main.js` runs to ready (migrations, commands) and stops on SIGTERM', async () => {
    // Built inside the repository (gitignored .data/) so dist/ resolves node_modules and package.json as it does in place.
    const outdir = join('.data', `build-test-${process.pid}`);
    cleanups.push(() => rmSync(join(ROOT, outdir), { recursive: true, force: true }));
    const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--outdir', outdir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    expect(existsSync(join(ROOT, outdir, 'src', 'main.test.js'))).toBe(false);

    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: await emptyDatabase(), HTTP_PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production' };
    delete env.DISCORD_TOKEN;
    // Plain node, no loader: anything still needing tsx would fail to import here.
    const child = spawnChild(process.execPath, [join(outdir, 'main.js')], { env, cwd: ROOT });
    try {
      const ready = await child.waitForLine((l) => l.json?.msg === 'ready', 90_000);
      expect((await fetch(`${String(ready.json!.http)}/readyz`)).status).toBe(200);
      const migrated = child.lines.find((l) => l.json?.msg === 'migrations applied')?.json?.applied as string[];
      expect(migrated.length).toBeGreaterThan(0);
      expect(migrated.every((name) => !/\.[jt]s$/.test(name))).toBe(true);
      const discord = child.lines.find((l) => l.json?.msg === 'discord ready')!.json!;
      expect(discord.commands).toBeGreaterThan(10);
    } finally {
      expect(await child.stop('SIGTERM')).toBe(0);
    }
    expect(child.lines.some((l) => l.json?.msg === 'stopped')).toBe(true);
  }, 240_000);

  it('SIGTERM to the `npm start` process stops the bot and its embedded PostgreSQL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'solbound-npm-start-'));
    chmodSync(dir, 0o755); // the embedded server runs as the postgres user when we are root
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = { ...process.env, PG_DATA_DIR: join(dir, 'pg'), PG_PORT: String(await freePort()), HTTP_PORT: '0', JOBS_ENABLED: 'false' };
    delete env.DATABASE_URL;
    delete env.DISCORD_TOKEN;
    const npm = spawnChild('npm', ['start', '--silent'], { env, cwd: ROOT });
    let botPid = 0;
    let postmasterPid = 0;
    try {
      const ready = await npm.waitForLine((l) => l.json?.msg === 'ready', 120_000);
      botPid = Number(ready.json!.pid);
      postmasterPid = Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
      expect(isAlive(botPid) && isAlive(postmasterPid)).toBe(true);
    } finally {
      await npm.stop('SIGTERM');
    }
    for (let i = 0; i < 100 && (isAlive(botPid) || isAlive(postmasterPid)); i++) await new Promise((r) => setTimeout(r, 100));
    expect({ bot: isAlive(botPid), postgres: isAlive(postmasterPid) }).toEqual({ bot: false, postgres: false });
    expect(npm.lines.some((l) => l.json?.msg === 'stopped')).toBe(true);
  }, 240_000);
});
