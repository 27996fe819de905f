import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Membership jobs (issue 14): a role change Discord refuses for good (the role sits above the bot's, Manage Roles is
// missing, the role was deleted, the member left) is finished as failed rather than retried forever, and the guild's
// log channel is told once per (guild, role, problem) in a window instead of once per member.
//
// The subscription webhook trigger builds its payload (two lookups, through a SQL function planned per call) before
// webhook_emit() finds out the member has no endpoint: ~0.3 ms a row, 94 % of expiring 10k subscriptions. It now asks
// first, as webhook_emit does; the events emitted are unchanged.

const SUBSCRIPTION_EVENT = `
      IF TG_OP = 'INSERT' THEN
        v_type := 'subscription.activated';
      ELSIF NEW.status = 'EXPIRED' AND OLD.status <> 'EXPIRED' THEN
        v_type := 'subscription.expired';
      ELSIF NEW.status = 'CANCELED' AND OLD.status <> 'CANCELED' THEN
        v_type := 'subscription.canceled';
      ELSIF NEW.expires_at > OLD.expires_at AND NEW.status IN ('ACTIVE', 'SUSPENDED') THEN
        v_type := 'subscription.renewed';
      ELSE
        RETURN NULL;
      END IF;`;

/** The subscription webhook trigger function; `askFirst` skips building the payload for members without endpoints. */
function subscriptionWebhookTrigger(askFirst: boolean): string {
  const guard = askFirst
    ? `
      IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE owner_user_id = NEW.user_id AND active AND v_type = ANY (event_types)) THEN
        RETURN NULL;
      END IF;`
    : '';
  return `CREATE OR REPLACE FUNCTION webhooks_billing_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_type text;
    BEGIN${SUBSCRIPTION_EVENT}${guard}
      PERFORM webhook_emit(v_type, NEW.user_id, webhooks_billing_payload(NEW));
      RETURN NULL;
    END $$`;
}

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
  await sql.raw(subscriptionWebhookTrigger(true)).execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw(subscriptionWebhookTrigger(false)).execute(db);
  await sql`
    DROP TABLE billing_role_alerts;
    DROP INDEX billing_role_changes_failed;
    ALTER TABLE billing_role_changes DROP CONSTRAINT billing_role_changes_failed_done;
    ALTER TABLE billing_role_changes DROP COLUMN failed_at;
  `.execute(db);
}
