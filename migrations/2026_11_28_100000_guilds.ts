import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// One bot serves many guilds. guild_settings holds what a server configures for itself (support channel, staff
// role, ticket rules, log channel, room for the badge role and membership defaults); a NULL column means "use the
// bot's configured default", so changing a default in the environment reaches every guild that never overrode it.
// audit_events is the append-only record of privileged actions, written in the same transaction as the action:
// a trigger refuses UPDATE and DELETE (TRUNCATE too) so a compromised or buggy code path cannot rewrite history.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE guild_settings (
      guild_id text PRIMARY KEY CHECK (guild_id ~ '^[0-9]{15,22}$'),
      support_channel_id text CHECK (support_channel_id ~ '^[0-9]{15,22}$'),
      staff_role_id text CHECK (staff_role_id ~ '^[0-9]{15,22}$'),
      log_channel_id text CHECK (log_channel_id ~ '^[0-9]{15,22}$'),
      ticket_categories text[] CHECK (
        cardinality(ticket_categories) BETWEEN 1 AND 25
        AND array_to_string(ticket_categories, ',') ~ '^[a-z0-9_-]{1,32}(,[a-z0-9_-]{1,32})*$'
      ),
      max_open_tickets integer CHECK (max_open_tickets BETWEEN 1 AND 50),
      open_cooldown_seconds integer CHECK (open_cooldown_seconds BETWEEN 0 AND 86400),
      auto_close_hours double precision CHECK (auto_close_hours > 0 AND auto_close_hours <= 8760),
      auto_close_warning_hours double precision CHECK (auto_close_warning_hours > 0 AND auto_close_warning_hours <= 8760),
      badge_role_id text CHECK (badge_role_id ~ '^[0-9]{15,22}$'),
      membership_defaults jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TRIGGER guild_settings_updated_at BEFORE UPDATE ON guild_settings FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE audit_events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- NULL when the actor is not a Discord user (the admin API bearer token, configuration at start).
      actor_discord_id text,
      via text NOT NULL CHECK (via IN ('discord', 'admin-api', 'config', 'system')),
      guild_id text,
      action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.-]{1,63}$'),
      target text NOT NULL CHECK (char_length(target) BETWEEN 1 AND 200),
      before jsonb,
      after jsonb,
      reason text CHECK (char_length(reason) <= 500),
      at timestamptz NOT NULL DEFAULT now()
    );
    -- /audit and GET /admin/audit: newest first, optionally per guild, actor or action (keyset on id).
    CREATE INDEX audit_events_guild_idx ON audit_events (guild_id, id DESC);
    CREATE INDEX audit_events_actor_idx ON audit_events (actor_discord_id, id DESC);
    CREATE INDEX audit_events_action_idx ON audit_events (action, id DESC);

    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'SB010', MESSAGE = 'audit_events is append-only';
    END $$;
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE audit_events;
    DROP FUNCTION audit_events_append_only();
    DROP TABLE guild_settings;
  `.execute(db);
}
