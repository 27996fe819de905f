import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// Memberships (issue 14): plans per guild with explicit prices per (cycle, currency), coupons + redemptions, invites,
// invoices (per-guild numbers, Solana Pay reference, forward-only status), invoice payments (one signature pays
// once), subscriptions (forward-only, one live per member and plan), trial uses, a role-change outbox and a per-guild
// revenue account.
//
// Money: a `subscription_payment` journal entry moves an applied payment from the member (from_user_id) to the
// guild's revenue (guild_id, to_user_id NULL) and guild_revenue grows by the same amount in the same transaction; a
// `subscription_refund` moves it back. An on-chain payment first arrives as an `invoice_deposit` inflow to the
// member's balance (so an overpayment's excess or a late payment simply stays there), then the applied part is paid
// like a balance payment. So Σ account_balances + open escrow + pending withdrawals + Σ guild_revenue = inflows −
// outflows, per currency, and every member balance still equals its journal.
//
// Status machines are enforced here, not only in the service: a trigger refuses any backward move, so no code path
// (a job, a stale admin request) can turn an EXPIRED invoice PAID or revive an ended subscription.

const NEW_JOURNAL_TYPES = ['subscription_payment', 'subscription_refund', 'invoice_deposit'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function journalTypes(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
    WHERE conrelid = 'journal'::regclass AND conname = 'journal_type_check'`.execute(db);
  return [...(rows[0]?.def ?? '').matchAll(/'([a-z_]+)'::text/g)].map((m) => m[1]!);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function setJournalTypes(db: Kysely<any>, types: string[]): Promise<void> {
  const list = sql.join(types.map((t) => sql.lit(t)));
  await sql`ALTER TABLE journal DROP CONSTRAINT journal_type_check`.execute(db);
  await sql`ALTER TABLE journal ADD CONSTRAINT journal_type_check CHECK (type IN (${list}))`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  const current = await journalTypes(db);
  await setJournalTypes(db, [...new Set([...current, ...NEW_JOURNAL_TYPES])]);

  await sql`
    CREATE TABLE billing_plans (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      code text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
      name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
      description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
      features text[] NOT NULL DEFAULT '{}',
      role_id text NOT NULL,
      trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days BETWEEN 0 AND 365),
      invite_only boolean NOT NULL DEFAULT false,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
      archived_at timestamptz,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_plans_guild_code_key UNIQUE (guild_id, code),
      CONSTRAINT billing_plans_archived CHECK ((status = 'archived') = (archived_at IS NOT NULL))
    );
    CREATE TRIGGER billing_plans_updated_at BEFORE UPDATE ON billing_plans FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    -- One row per (cycle, currency): no exchange-rate guessing, a plan is sold only in the currencies it names.
    CREATE TABLE billing_plan_prices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      plan_id bigint NOT NULL REFERENCES billing_plans (id) ON DELETE CASCADE,
      cycle text NOT NULL CHECK (cycle IN ('month', 'quarter', 'half_year', 'year')),
      currency text NOT NULL,
      price numeric(39, 0) NOT NULL CHECK (price > 0),
      -- The plan's own discount for committing to this cycle, applied before any coupon.
      discount_percent smallint NOT NULL DEFAULT 0 CHECK (discount_percent BETWEEN 0 AND 99),
      CONSTRAINT billing_plan_prices_key UNIQUE (plan_id, cycle, currency)
    );

    CREATE TABLE billing_coupons (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      code text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
      -- NULL: any plan of the guild.
      plan_id bigint REFERENCES billing_plans (id) ON DELETE CASCADE,
      max_redemptions integer CHECK (max_redemptions > 0),
      redemptions integer NOT NULL DEFAULT 0,
      expires_at timestamptz,
      active boolean NOT NULL DEFAULT true,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_coupons_guild_code_key UNIQUE (guild_id, code),
      -- The counter is claimed with a conditional UPDATE; this makes "one more than allowed" impossible regardless.
      CONSTRAINT billing_coupons_redemptions CHECK (redemptions >= 0 AND (max_redemptions IS NULL OR redemptions <= max_redemptions))
    );
    CREATE TRIGGER billing_coupons_updated_at BEFORE UPDATE ON billing_coupons FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    -- Per cycle (NULL = every cycle): a percentage, or a fixed amount in one currency.
    CREATE TABLE billing_coupon_discounts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      coupon_id bigint NOT NULL REFERENCES billing_coupons (id) ON DELETE CASCADE,
      cycle text CHECK (cycle IN ('month', 'quarter', 'half_year', 'year')),
      percent_off smallint CHECK (percent_off BETWEEN 1 AND 100),
      amount_off numeric(39, 0) CHECK (amount_off > 0),
      currency text,
      CONSTRAINT billing_coupon_discounts_kind CHECK (
        (percent_off IS NOT NULL AND amount_off IS NULL AND currency IS NULL) OR
        (percent_off IS NULL AND amount_off IS NOT NULL AND currency IS NOT NULL)),
      CONSTRAINT billing_coupon_discounts_key UNIQUE NULLS NOT DISTINCT (coupon_id, cycle, currency)
    );

    CREATE TABLE billing_invites (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      plan_id bigint NOT NULL REFERENCES billing_plans (id) ON DELETE CASCADE,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      invited_by text NOT NULL,
      expires_at timestamptz NOT NULL,
      -- Set in the transaction that activates the subscription it admitted: accepted once.
      accepted_at timestamptz,
      revoked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX billing_invites_open_key ON billing_invites (plan_id, user_id) WHERE accepted_at IS NULL AND revoked_at IS NULL;

    CREATE TABLE billing_invoice_counters (
      guild_id text PRIMARY KEY,
      last_number bigint NOT NULL CHECK (last_number > 0)
    );

    CREATE TABLE billing_invoices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      number text NOT NULL CHECK (number ~ '^INV-[0-9]{4}-[0-9]{6,}$'),
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      plan_id bigint NOT NULL REFERENCES billing_plans (id) ON DELETE RESTRICT,
      cycle text NOT NULL CHECK (cycle IN ('month', 'quarter', 'half_year', 'year')),
      kind text NOT NULL DEFAULT 'new' CHECK (kind IN ('new', 'renewal', 'trial')),
      currency text NOT NULL,
      -- The SPL mint the payment must arrive in; NULL = native SOL.
      mint text,
      subtotal numeric(39, 0) NOT NULL CHECK (subtotal >= 0),
      discount numeric(39, 0) NOT NULL DEFAULT 0 CHECK (discount >= 0),
      amount numeric(39, 0) NOT NULL CHECK (amount >= 0),
      paid_amount numeric(39, 0) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
      coupon_id bigint REFERENCES billing_coupons (id) ON DELETE RESTRICT,
      invite_id bigint REFERENCES billing_invites (id) ON DELETE RESTRICT,
      status text NOT NULL DEFAULT 'CREATED' CHECK (status IN ('CREATED', 'PENDING', 'PAID', 'EXPIRED', 'CANCELED', 'REFUNDED')),
      -- Solana Pay: the reference key the invoice-watch job looks transactions up by, and where the money must go
      -- (NULL when the deployment has no treasury: such an invoice can only be paid from balance).
      reference text NOT NULL,
      recipient text,
      -- Until when the quoted amount holds; the invoice expires then (invoice-expiry job).
      rate_locked_until timestamptz NOT NULL,
      interaction_id text,
      subscription_id bigint,
      paid_at timestamptz,
      expired_at timestamptz,
      canceled_at timestamptz,
      refunded_at timestamptz,
      refunded_amount numeric(39, 0) CHECK (refunded_amount > 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_invoices_guild_number_key UNIQUE (guild_id, number),
      CONSTRAINT billing_invoices_reference_key UNIQUE (reference),
      CONSTRAINT billing_invoices_interaction_key UNIQUE (interaction_id),
      CONSTRAINT billing_invoices_amount CHECK (amount = subtotal - discount),
      CONSTRAINT billing_invoices_paid_complete CHECK (status NOT IN ('PAID', 'REFUNDED') OR (paid_at IS NOT NULL AND paid_amount >= amount)),
      CONSTRAINT billing_invoices_paid_never_expired CHECK (status NOT IN ('PAID', 'REFUNDED') OR expired_at IS NULL AND canceled_at IS NULL),
      CONSTRAINT billing_invoices_underpaid_while_open CHECK (status NOT IN ('CREATED', 'PENDING') OR paid_amount < amount OR amount = 0),
      CONSTRAINT billing_invoices_refund_complete CHECK ((status = 'REFUNDED') = (refunded_at IS NOT NULL))
    );
    CREATE TRIGGER billing_invoices_updated_at BEFORE UPDATE ON billing_invoices FOR EACH ROW EXECUTE FUNCTION set_updated_at();
    CREATE INDEX billing_invoices_user ON billing_invoices (user_id, id DESC);
    CREATE INDEX billing_invoices_guild ON billing_invoices (guild_id, id DESC);
    CREATE INDEX billing_invoices_open_expiry ON billing_invoices (rate_locked_until) WHERE status IN ('CREATED', 'PENDING');

    CREATE FUNCTION billing_invoice_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = OLD.status OR (OLD.status, NEW.status) IN (
        ('CREATED', 'PENDING'), ('CREATED', 'PAID'), ('CREATED', 'EXPIRED'), ('CREATED', 'CANCELED'),
        ('PENDING', 'PAID'), ('PENDING', 'EXPIRED'), ('PENDING', 'CANCELED'), ('PAID', 'REFUNDED')) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION USING ERRCODE = 'SB010', MESSAGE = format('invoice %s cannot move from %s to %s', OLD.id, OLD.status, NEW.status);
    END $$;
    CREATE TRIGGER billing_invoices_forward BEFORE UPDATE OF status ON billing_invoices FOR EACH ROW EXECUTE FUNCTION billing_invoice_forward();

    -- Every payment applied to (or arriving for) an invoice. payment_key is the idempotency claim: the chain
    -- signature for on-chain payments, 'balance:<invoice id>' for a balance payment (one per invoice, however many
    -- clicks). signature is UNIQUE on its own as well: one signature pays once, whichever invoice it names.
    CREATE TABLE billing_invoice_payments (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      invoice_id bigint NOT NULL REFERENCES billing_invoices (id) ON DELETE RESTRICT,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      source text NOT NULL CHECK (source IN ('balance', 'chain')),
      payment_key text NOT NULL,
      signature text,
      currency text NOT NULL,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      -- What went to the invoice; the rest (excess, or everything when the invoice was no longer open) was credited to
      -- the member's balance.
      applied_amount numeric(39, 0) NOT NULL CHECK (applied_amount >= 0),
      credited_amount numeric(39, 0) NOT NULL CHECK (credited_amount >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_invoice_payments_key UNIQUE (payment_key),
      CONSTRAINT billing_invoice_payments_signature_key UNIQUE (signature),
      CONSTRAINT billing_invoice_payments_split CHECK (applied_amount + credited_amount = amount),
      CONSTRAINT billing_invoice_payments_source CHECK ((source = 'chain') = (signature IS NOT NULL))
    );
    CREATE INDEX billing_invoice_payments_invoice ON billing_invoice_payments (invoice_id);

    CREATE TABLE billing_coupon_redemptions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      coupon_id bigint NOT NULL REFERENCES billing_coupons (id) ON DELETE CASCADE,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      invoice_id bigint NOT NULL REFERENCES billing_invoices (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_coupon_redemptions_member_key UNIQUE (coupon_id, user_id)
    );

    CREATE TABLE billing_subscriptions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      plan_id bigint NOT NULL REFERENCES billing_plans (id) ON DELETE RESTRICT,
      status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'EXPIRED', 'CANCELED', 'SUSPENDED')),
      cycle text NOT NULL CHECK (cycle IN ('month', 'quarter', 'half_year', 'year')),
      currency text NOT NULL,
      trial boolean NOT NULL DEFAULT false,
      auto_renew boolean NOT NULL DEFAULT true,
      active_since timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      -- When it stopped granting the role (expired, canceled, suspended); NULL while ACTIVE.
      inactive_since timestamptz,
      -- The member asked to stop renewing: the role stays until expires_at, then the subscription expires.
      cancel_requested_at timestamptz,
      suspended_reason text,
      last_invoice_id bigint REFERENCES billing_invoices (id) ON DELETE RESTRICT,
      -- Reminder DMs (subscription-reminders job): each sent at most once per period; cleared when the period extends.
      reminded_3d_at timestamptz,
      reminded_1d_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT billing_subscriptions_period CHECK (expires_at > active_since),
      CONSTRAINT billing_subscriptions_inactive CHECK ((status = 'ACTIVE') = (inactive_since IS NULL))
    );
    CREATE TRIGGER billing_subscriptions_updated_at BEFORE UPDATE ON billing_subscriptions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
    -- One live subscription per (member, plan); ended ones stay as history.
    CREATE UNIQUE INDEX billing_subscriptions_live_key ON billing_subscriptions (user_id, plan_id) WHERE status IN ('ACTIVE', 'SUSPENDED');
    -- The expiry and reminder jobs scan live subscriptions by expiry.
    CREATE INDEX billing_subscriptions_active_expiry ON billing_subscriptions (expires_at) WHERE status = 'ACTIVE';
    CREATE INDEX billing_subscriptions_guild ON billing_subscriptions (guild_id, status);
    ALTER TABLE billing_invoices ADD CONSTRAINT billing_invoices_subscription_fkey
      FOREIGN KEY (subscription_id) REFERENCES billing_subscriptions (id) ON DELETE RESTRICT;

    -- ACTIVE ⇄ SUSPENDED (staff only), ACTIVE|SUSPENDED → EXPIRED|CANCELED; EXPIRED and CANCELED are final.
    CREATE FUNCTION billing_subscription_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = OLD.status OR (OLD.status, NEW.status) IN (
        ('ACTIVE', 'SUSPENDED'), ('SUSPENDED', 'ACTIVE'), ('ACTIVE', 'EXPIRED'), ('ACTIVE', 'CANCELED'),
        ('SUSPENDED', 'EXPIRED'), ('SUSPENDED', 'CANCELED')) THEN
        IF NEW.status IN ('EXPIRED', 'CANCELED') AND NEW.expires_at <> OLD.expires_at AND NEW.status = OLD.status THEN
          RAISE EXCEPTION USING ERRCODE = 'SB011', MESSAGE = format('subscription %s has ended; it cannot be extended', OLD.id);
        END IF;
        RETURN NEW;
      END IF;
      RAISE EXCEPTION USING ERRCODE = 'SB011', MESSAGE = format('subscription %s cannot move from %s to %s', OLD.id, OLD.status, NEW.status);
    END $$;
    CREATE TRIGGER billing_subscriptions_forward BEFORE UPDATE ON billing_subscriptions FOR EACH ROW EXECUTE FUNCTION billing_subscription_forward();

    -- A trial once per member per guild: the insert is the atomic claim.
    CREATE TABLE billing_trial_uses (
      guild_id text NOT NULL,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      plan_id bigint NOT NULL REFERENCES billing_plans (id) ON DELETE CASCADE,
      subscription_id bigint REFERENCES billing_subscriptions (id) ON DELETE SET NULL,
      used_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (guild_id, user_id)
    );

    -- Role grants and revokes waiting to be applied on Discord (written in the transaction that changed the
    -- subscription; drained by drainRoleChanges / the role-sync jobs, retried with backoff).
    CREATE TABLE billing_role_changes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      guild_id text NOT NULL,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      role_id text NOT NULL,
      op text NOT NULL CHECK (op IN ('add', 'remove')),
      reason text NOT NULL,
      subscription_id bigint REFERENCES billing_subscriptions (id) ON DELETE SET NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error text,
      done_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX billing_role_changes_due ON billing_role_changes (next_attempt_at, id) WHERE done_at IS NULL;

    -- What the bot owes each guild from memberships sold, per currency; moved only together with its journal entry.
    CREATE TABLE guild_revenue (
      guild_id text NOT NULL,
      currency text NOT NULL,
      amount numeric(39, 0) NOT NULL DEFAULT 0 CHECK (amount >= 0),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (guild_id, currency)
    );
    CREATE INDEX journal_guild_revenue_idx ON journal (guild_id, id) WHERE type IN ('subscription_payment', 'subscription_refund');
  `.execute(db);

  // Webhook events in the changing transaction, like migration 2026_11_28_160000's (webhook_emit()).
  await sql`
    CREATE FUNCTION webhooks_billing_payload(s billing_subscriptions) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'subscriptionId', s.id::text,
        'discordId', (SELECT discord_id FROM users WHERE id = s.user_id),
        'guildId', s.guild_id,
        'plan', (SELECT code FROM billing_plans WHERE id = s.plan_id),
        'status', s.status,
        'cycle', s.cycle,
        'expiresAt', to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
    $$;

    CREATE FUNCTION webhooks_billing_invoice_paid() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit('invoice.paid', NEW.user_id, jsonb_build_object(
        'invoiceId', NEW.id::text,
        'number', NEW.number,
        'discordId', (SELECT discord_id FROM users WHERE id = NEW.user_id),
        'guildId', NEW.guild_id,
        'plan', (SELECT code FROM billing_plans WHERE id = NEW.plan_id),
        'amount', NEW.amount::text,
        'currency', NEW.currency,
        'paidAt', to_char(NEW.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_invoices_webhooks_paid AFTER UPDATE OF status ON billing_invoices
      FOR EACH ROW WHEN (NEW.status = 'PAID' AND OLD.status <> 'PAID') EXECUTE FUNCTION webhooks_billing_invoice_paid();

    CREATE FUNCTION webhooks_billing_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_type text;
    BEGIN
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
      END IF;
      PERFORM webhook_emit(v_type, NEW.user_id, webhooks_billing_payload(NEW));
      RETURN NULL;
    END $$;
    CREATE TRIGGER billing_subscriptions_webhooks AFTER INSERT OR UPDATE ON billing_subscriptions
      FOR EACH ROW EXECUTE FUNCTION webhooks_billing_subscription();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER billing_subscriptions_webhooks ON billing_subscriptions;
    DROP TRIGGER billing_invoices_webhooks_paid ON billing_invoices;
    DROP FUNCTION webhooks_billing_subscription();
    DROP FUNCTION webhooks_billing_invoice_paid();
    DROP FUNCTION webhooks_billing_payload(billing_subscriptions);
    DROP INDEX journal_guild_revenue_idx;
    DROP TABLE guild_revenue;
    DROP TABLE billing_role_changes;
    DROP TABLE billing_trial_uses;
    DROP TABLE billing_coupon_redemptions;
    DROP TABLE billing_invoice_payments;
    ALTER TABLE billing_invoices DROP CONSTRAINT billing_invoices_subscription_fkey;
    DROP TABLE billing_subscriptions;
    DROP FUNCTION billing_subscription_forward();
    DROP TABLE billing_invoices;
    DROP FUNCTION billing_invoice_forward();
    DROP TABLE billing_invoice_counters;
    DROP TABLE billing_invites;
    DROP TABLE billing_coupon_discounts;
    DROP TABLE billing_coupons;
    DROP TABLE billing_plan_prices;
    DROP TABLE billing_plans;
  `.execute(db);
  // Journal rows of the billing types must be gone (or retyped) before this; the CHECK refuses them otherwise.
  const current = await journalTypes(db);
  await setJournalTypes(
    db,
    current.filter((t) => !NEW_JOURNAL_TYPES.includes(t)),
  );
}
