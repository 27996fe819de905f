import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// subscription-expiry speed (issue 14 bench: 100k due subscriptions in < 5 s). A profile of one expiry batch found
// ~35 % of its time in per-row trigger work on the rows it writes, none of which needed to be per row:
//
// - billing_subscriptions_forward ran a PL/pgSQL call for every updated row to allow what is almost always allowed.
//   Its WHEN clause now lets it fire only for a forbidden change (an EXPIRED or CANCELED row changing status or
//   expires_at; every other move between the four statuses is allowed), which PostgreSQL evaluates without a call.
//   The function is unchanged and still raises SB011 with the same messages.
// - billing_subscriptions_updated_at: skipped when the statement sets updated_at itself (the expiry batch does).
// - billing_subscriptions_webhooks on UPDATE: one statement-level trigger over the transition tables, which looks up
//   endpoints once for the whole statement (a semi-join) instead of a PL/pgSQL call and a lookup per row. INSERT keeps
//   the row-level trigger (one row per activation). Events emitted are the same.
// - billing_role_changes' two foreign keys (user_id → users ON DELETE CASCADE, subscription_id → billing_subscriptions
//   ON DELETE SET NULL) ran two RI queries per inserted row. They are replaced by the same guarantees checked once
//   per statement: the insert locks the referenced rows FOR KEY SHARE (as the RI check did, so a concurrent delete
//   waits for the commit) and fails with 23503 if any is missing; deletes cascade / set null through statement-level
//   triggers on users and billing_subscriptions. ids are GENERATED ALWAYS identities and never updated, so the FKs'
//   NO ACTION on key update has nothing to replace; an UPDATE of the referencing columns is checked per row (rare).

const ENDED = `OLD.status IN ('EXPIRED', 'CANCELED') AND (NEW.status <> OLD.status OR NEW.expires_at <> OLD.expires_at)`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql
    .raw(
      `
    DROP TRIGGER billing_subscriptions_forward ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_forward BEFORE UPDATE ON billing_subscriptions FOR EACH ROW
      WHEN (${ENDED}) EXECUTE FUNCTION billing_subscription_forward();

    DROP TRIGGER billing_subscriptions_updated_at ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_updated_at BEFORE UPDATE ON billing_subscriptions FOR EACH ROW
      WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at) EXECUTE FUNCTION set_updated_at();

    CREATE FUNCTION webhooks_billing_subscription_updates() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- The same event choice as webhooks_billing_subscription(), per changed row; only members with an endpoint
      -- for that event get one (webhook_emit() would look again and write nothing for the others).
      PERFORM webhook_emit(c.type, c.user_id, webhooks_billing_payload(c.s))
      FROM (
        SELECT n::billing_subscriptions AS s, n.user_id, n.id,
          CASE
            WHEN n.status = 'EXPIRED' AND o.status <> 'EXPIRED' THEN 'subscription.expired'
            WHEN n.status = 'CANCELED' AND o.status <> 'CANCELED' THEN 'subscription.canceled'
            WHEN n.expires_at > o.expires_at AND n.status IN ('ACTIVE', 'SUSPENDED') THEN 'subscription.renewed'
          END AS type
        FROM new_rows n JOIN old_rows o ON o.id = n.id
      ) c
      WHERE c.type IS NOT NULL
        AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.owner_user_id = c.user_id AND e.active AND c.type = ANY (e.event_types))
      ORDER BY c.id;
      RETURN NULL;
    END $$;
    DROP TRIGGER billing_subscriptions_webhooks ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_webhooks AFTER INSERT ON billing_subscriptions
      FOR EACH ROW EXECUTE FUNCTION webhooks_billing_subscription();
    CREATE TRIGGER billing_subscriptions_webhooks_updates AFTER UPDATE ON billing_subscriptions
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION webhooks_billing_subscription_updates();

    ALTER TABLE billing_role_changes DROP CONSTRAINT billing_role_changes_user_id_fkey;
    ALTER TABLE billing_role_changes DROP CONSTRAINT billing_role_changes_subscription_id_fkey;

    CREATE FUNCTION billing_role_changes_refs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_user bigint;
      v_sub bigint;
    BEGIN
      -- Lock first (a delete committed meanwhile makes its row vanish from the lock), then look with a new snapshot.
      -- A member whose subscription row is now locked needs no lock of their own: billing_subscriptions.user_id is
      -- ON DELETE RESTRICT, so that user cannot be deleted before this transaction ends (the expiry batch's case).
      PERFORM 1 FROM billing_subscriptions s WHERE s.id IN (SELECT subscription_id FROM new_rows) FOR KEY SHARE;
      PERFORM 1 FROM users u
      WHERE u.id IN (
        SELECT n.user_id FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM billing_subscriptions s WHERE s.id = n.subscription_id AND s.user_id = n.user_id))
      FOR KEY SHARE;
      SELECT n.user_id INTO v_user FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = n.user_id) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('billing_role_changes: user %s does not exist', v_user);
      END IF;
      SELECT n.subscription_id INTO v_sub FROM new_rows n
      WHERE n.subscription_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM billing_subscriptions s WHERE s.id = n.subscription_id) LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('billing_role_changes: subscription %s does not exist', v_sub);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_role_changes_refs_inserted AFTER INSERT ON billing_role_changes
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_role_changes_refs_inserted();

    CREATE FUNCTION billing_role_changes_refs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM users WHERE id = NEW.user_id FOR KEY SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('billing_role_changes: user %s does not exist', NEW.user_id);
      END IF;
      IF NEW.subscription_id IS NOT NULL THEN
        PERFORM 1 FROM billing_subscriptions WHERE id = NEW.subscription_id FOR KEY SHARE;
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = format('billing_role_changes: subscription %s does not exist', NEW.subscription_id);
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_role_changes_refs_updated AFTER UPDATE ON billing_role_changes FOR EACH ROW
      WHEN (NEW.user_id <> OLD.user_id OR NEW.subscription_id IS DISTINCT FROM OLD.subscription_id AND NEW.subscription_id IS NOT NULL)
      EXECUTE FUNCTION billing_role_changes_refs_updated();

    CREATE FUNCTION billing_role_changes_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM billing_role_changes WHERE user_id IN (SELECT id FROM old_rows);
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_role_changes_users_deleted AFTER DELETE ON users
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_role_changes_users_deleted();

    CREATE FUNCTION billing_role_changes_subscriptions_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE billing_role_changes SET subscription_id = NULL WHERE subscription_id IN (SELECT id FROM old_rows);
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_role_changes_subscriptions_deleted AFTER DELETE ON billing_subscriptions
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_role_changes_subscriptions_deleted();
  `,
    )
    .execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER billing_role_changes_subscriptions_deleted ON billing_subscriptions;
    DROP FUNCTION billing_role_changes_subscriptions_deleted();
    DROP TRIGGER billing_role_changes_users_deleted ON users;
    DROP FUNCTION billing_role_changes_users_deleted();
    DROP TRIGGER billing_role_changes_refs_updated ON billing_role_changes;
    DROP FUNCTION billing_role_changes_refs_updated();
    DROP TRIGGER billing_role_changes_refs_inserted ON billing_role_changes;
    DROP FUNCTION billing_role_changes_refs_inserted();
    ALTER TABLE billing_role_changes ADD CONSTRAINT billing_role_changes_user_id_fkey
      FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
    ALTER TABLE billing_role_changes ADD CONSTRAINT billing_role_changes_subscription_id_fkey
      FOREIGN KEY (subscription_id) REFERENCES billing_subscriptions (id) ON DELETE SET NULL;

    DROP TRIGGER billing_subscriptions_webhooks_updates ON billing_subscriptions;
    DROP TRIGGER billing_subscriptions_webhooks ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_webhooks AFTER INSERT OR UPDATE ON billing_subscriptions
      FOR EACH ROW EXECUTE FUNCTION webhooks_billing_subscription();
    DROP FUNCTION webhooks_billing_subscription_updates();

    DROP TRIGGER billing_subscriptions_updated_at ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_updated_at BEFORE UPDATE ON billing_subscriptions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
    DROP TRIGGER billing_subscriptions_forward ON billing_subscriptions;
    CREATE TRIGGER billing_subscriptions_forward BEFORE UPDATE ON billing_subscriptions FOR EACH ROW EXECUTE FUNCTION billing_subscription_forward();
  `.execute(db);
}
