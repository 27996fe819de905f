import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Membership jobs (issue 14): a role change Discord refuses for good (the role sits above the bot's, Manage Roles is
// missing, the role was deleted, the member left) is finished as failed rather than retried forever, and the guild's
// log channel is told once per (guild, role, problem) in a window instead of once per member.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Set together with done_at: the row is finished either way (the due index only holds unfinished rows).
    ALTER TABLE billing_role_changes ADD COLUMN failed_at timestamptz;
    ALTER TABLE billing_role_changes ADD CONSTRAINT billing_role_changes_failed_done CHECK (failed_at IS NULL OR done_at IS NOT NULL);
    CREATE INDEX billing_role_changes_failed ON billing_role_changes (guild_id, failed_at) WHERE failed_at IS NOT NULL;

    CREATE TABLE billing_role_alerts (
      guild_id text NOT NULL,
      role_id text NOT NULL,
      problem text NOT NULL,
      alerted_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (guild_id, role_id, problem)
    );
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE billing_role_alerts;
    DROP INDEX billing_role_changes_failed;
    ALTER TABLE billing_role_changes DROP CONSTRAINT billing_role_changes_failed_done;
    ALTER TABLE billing_role_changes DROP COLUMN failed_at;
  `.execute(db);
}
