import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Issue 18, ledger at scale. Three changes, one reversible step:
// 1. One row per tip leg. The journal row already held kind, sender, receiver, amount, currency and time; it now
//    also carries the note and the guild, and `tips` becomes a view over it. Old tip rows keep their ids (the
//    journal row's ref is 'tip:<old id>'); new tips are identified by their journal id, and the journal identity is
//    moved past the highest old tip id so the two id ranges never overlap in the view. interaction_id and leg come
//    from the idempotency key '<kind>:<interaction>:<leg>', which every tip leg has always had.
// 2. Credits to a receiver take no lock on its balance row. ledger_tip() credits a receiver's row in place only when
//    nobody holds it (FOR UPDATE SKIP LOCKED); otherwise (a hot receiver) or when the row does not exist yet it
//    appends a `balance_credits` row. A balance is its `balances` row plus its unfolded credits (view
//    `account_balances`). Credits are folded into the row by the owner's next debit (ledger_debit) or by the
//    ledger-fold job, always under the balance row's lock and always by DELETE … RETURNING the credit rows themselves:
//    a committed credit row can be deleted by exactly one transaction, and one that commits later is simply not
//    there yet and stays for the next fold. No id watermark is involved, so out-of-order commits cannot skip one.
// 3. /leaderboard reads `tip_totals_daily` (per guild, currency, UTC day and sender), maintained in the tip's own
//    transaction: the sender's balance row is locked by then, so this row never waits.

const TIP_SIGNATURE = sql`ledger_tip(text, text, text, numeric, text, text, text, text[], text[], text)`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Nullable without defaults: catalog-only changes, no table rewrite.
    ALTER TABLE journal ADD COLUMN note text, ADD COLUMN guild_id text;
    UPDATE journal j SET note = t.note, guild_id = t.guild_id
    FROM tips t
    WHERE j.type IN ('tip', 'rain') AND j.ref = 'tip:' || t.id AND (t.note IS NOT NULL OR t.guild_id IS NOT NULL);
    SELECT setval(pg_get_serial_sequence('journal', 'id'), greatest((SELECT max(id) FROM journal), (SELECT max(id) FROM tips), 1));
    -- No query looks a journal row up by id (history walks the per-user indexes, which end in id; the identity keeps
    -- ids unique), and its index cost every tip leg a WAL record.
    ALTER TABLE journal DROP CONSTRAINT journal_pkey;

    CREATE TABLE tip_totals_daily (
      guild_id text NOT NULL, -- '' = sent in a DM or before tips recorded their guild
      currency text NOT NULL,
      day date NOT NULL,      -- UTC
      sender_id bigint NOT NULL,
      total numeric(39, 0) NOT NULL,
      tips bigint NOT NULL,
      -- /leaderboard in a guild: equality on (guild_id, currency), range on day, grouped by sender.
      PRIMARY KEY (guild_id, currency, day, sender_id)
    ) WITH (fillfactor = 70); -- room on the page so a tip's += is a HOT update (total/tips are in no index)
    -- /leaderboard in DMs (bot-wide): every guild's rows of the currency in the period.
    CREATE INDEX tip_totals_daily_currency_day_idx ON tip_totals_daily (currency, day);
    INSERT INTO tip_totals_daily (guild_id, currency, day, sender_id, total, tips)
    SELECT coalesce(guild_id, ''), currency, (created_at AT TIME ZONE 'UTC')::date, sender_id, sum(amount), count(*)
    FROM tips GROUP BY 1, 2, 3, 4;

    DROP TABLE tips;
    CREATE VIEW tips AS
      SELECT CASE WHEN j.ref ~ '^tip:[0-9]+$' THEN substr(j.ref, 5)::bigint ELSE j.id END AS id,
             substring(j.idempotency_key FROM '^[a-z]+:(.*):[0-9]+$') AS interaction_id,
             substring(j.idempotency_key FROM ':([0-9]+)$')::smallint AS leg,
             j.type AS kind, j.from_user_id AS sender_id, j.to_user_id AS receiver_id, j.amount, j.currency, j.note,
             j.created_at, j.guild_id
      FROM journal j WHERE j.type IN ('tip', 'rain');

    -- Unfolded credits: insert-only until a fold deletes them; no id, no time, nothing but what the fold needs.
    CREATE TABLE balance_credits (
      user_id bigint NOT NULL,
      currency text NOT NULL,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0)
    ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_insert_threshold = 2000);
    -- Balance reads (row + unfolded) and folds (delete one owner's rows) look them up by owner.
    CREATE INDEX balance_credits_owner_idx ON balance_credits (user_id, currency);

    -- What a member holds. Solvency, /balance and every conservation check read this, never balances alone.
    CREATE VIEW account_balances AS
      SELECT user_id, currency, sum(amount)::numeric(39, 0) AS amount
      FROM (SELECT user_id, currency, amount FROM balances UNION ALL SELECT user_id, currency, amount FROM balance_credits) x
      GROUP BY user_id, currency;

    -- Folds one owner's credits under its balance row lock and, when the total covers it, subtracts p_amount.
    -- Returns the new balance, or NULL when the balance (credits included) is short; the fold itself is kept either
    -- way (it changes no total). The balance row is always locked before any credit row: the fold job does the same,
    -- so the two can never wait on each other in opposite orders.
    CREATE FUNCTION ledger_debit(p_user bigint, p_currency text, p_amount numeric) RETURNS numeric
    LANGUAGE plpgsql AS $$
    DECLARE
      v_id bigint;
      v_balance numeric(39, 0);
      v_folded numeric(39, 0);
    BEGIN
      -- Nothing to fold (the common case): one conditional UPDATE, which locks the row without a separate lock record
      -- in the WAL and re-checks the amount after any wait, so the balance can never go negative.
      IF NOT EXISTS (SELECT 1 FROM balance_credits WHERE user_id = p_user AND currency = p_currency) THEN
        UPDATE balances SET amount = amount - p_amount
        WHERE user_id = p_user AND currency = p_currency AND amount >= p_amount
        RETURNING amount INTO v_balance;
        IF FOUND THEN
          RETURN v_balance;
        END IF;
        -- Short, or credits arrived meanwhile: the general path below locks, folds and checks again.
      END IF;
      SELECT id, amount INTO v_id, v_balance FROM balances WHERE user_id = p_user AND currency = p_currency FOR UPDATE;
      IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM balance_credits WHERE user_id = p_user AND currency = p_currency) THEN
          RETURN NULL;
        END IF;
        -- Only ever credited unfolded (a receiver's first debit): give the credits a row to fold into.
        INSERT INTO balances (user_id, currency) VALUES (p_user, p_currency) ON CONFLICT (user_id, currency) DO NOTHING;
        SELECT id, amount INTO v_id, v_balance FROM balances WHERE user_id = p_user AND currency = p_currency FOR UPDATE;
      END IF;
      WITH f AS (DELETE FROM balance_credits WHERE user_id = p_user AND currency = p_currency RETURNING amount)
      SELECT coalesce(sum(amount), 0) INTO v_folded FROM f;
      IF v_balance + v_folded < p_amount THEN
        IF v_folded > 0 THEN
          UPDATE balances SET amount = v_balance + v_folded WHERE id = v_id;
        END IF;
        RETURN NULL;
      END IF;
      UPDATE balances SET amount = v_balance + v_folded - p_amount WHERE id = v_id;
      RETURN v_balance + v_folded - p_amount;
    END $$;

    -- Folds the credits of up to p_limit owners (lowest ids first); returns how many credit rows it folded.
    CREATE FUNCTION ledger_fold(p_limit integer) RETURNS bigint
    LANGUAGE plpgsql AS $$
    DECLARE
      v_owners bigint[];
      v_currencies text[];
      v_folded bigint;
    BEGIN
      SELECT array_agg(user_id ORDER BY user_id, currency), array_agg(currency ORDER BY user_id, currency)
      INTO v_owners, v_currencies
      FROM (SELECT DISTINCT user_id, currency FROM balance_credits ORDER BY user_id, currency LIMIT p_limit) o;
      IF v_owners IS NULL THEN
        RETURN 0;
      END IF;
      INSERT INTO balances (user_id, currency)
      SELECT u, c FROM unnest(v_owners, v_currencies) AS o(u, c) ORDER BY u, c
      ON CONFLICT (user_id, currency) DO NOTHING;
      -- Balance rows first, in (user_id, currency) order like every other multi-row writer; a tip holds a receiver's
      -- row only until its commit, so this waits briefly while new credits for that owner keep being appended.
      PERFORM 1 FROM balances b JOIN unnest(v_owners, v_currencies) AS o(u, c) ON b.user_id = o.u AND b.currency = o.c
      ORDER BY b.user_id, b.currency FOR UPDATE OF b;
      WITH f AS (
        DELETE FROM balance_credits k USING unnest(v_owners, v_currencies) AS o(u, c)
        WHERE k.user_id = o.u AND k.currency = o.c
        RETURNING k.user_id, k.currency, k.amount
      ), s AS (
        SELECT user_id, currency, sum(amount) AS amount, count(*) AS n FROM f GROUP BY 1, 2
      ), u AS (
        UPDATE balances b SET amount = b.amount + s.amount FROM s WHERE b.user_id = s.user_id AND b.currency = s.currency
      )
      SELECT coalesce(sum(n), 0) INTO v_folded FROM s;
      RETURN v_folded;
    END $$;
  `.execute(db);

  await sql`DROP FUNCTION ${TIP_SIGNATURE}`.execute(db);
  await sql`
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[],
      p_guild text DEFAULT NULL
    ) RETURNS TABLE (replayed boolean, tip_ids bigint[], sender_id bigint, receiver_ids bigint[], each_amount numeric, sender_balance numeric)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_sender bigint;
      v_receivers bigint[];
      v_keys text[];
      v_tip_ids bigint[];
      v_direct bigint[];
      v_total numeric(39, 0);
      v_balance numeric(39, 0);
    BEGIN
      -- Only unknown users are inserted: ON CONFLICT alone would still draw an identity value per known user.
      INSERT INTO users (discord_id, username)
      SELECT d, n FROM unnest(p_receiver_discord || p_sender_discord, p_receiver_names || p_sender_name) AS u(d, n)
      WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = u.d)
      ORDER BY d
      ON CONFLICT (discord_id) DO NOTHING;

      SELECT id INTO STRICT v_sender FROM users WHERE discord_id = p_sender_discord;
      SELECT array_agg(u.id ORDER BY r.ord) INTO v_receivers
      FROM unnest(p_receiver_discord) WITH ORDINALITY AS r(d, ord) JOIN users u ON u.discord_id = r.d;
      v_keys := ARRAY(SELECT p_kind || ':' || p_interaction || ':' || (g - 1) FROM generate_series(1, cardinality(v_receivers)) g);

      -- The journal row is the tip leg; its idempotency key is the claim. A plain INSERT rather than ON CONFLICT: a
      -- speculative insertion writes an extra confirmation record to the WAL for every row. A retry after the first
      -- attempt committed is caught by the probe; a concurrent duplicate waits on the key, gets unique_violation once
      -- the first commits, and replays (the exception block's subtransaction is the price of that rare case).
      IF NOT EXISTS (SELECT 1 FROM journal WHERE idempotency_key = ANY (v_keys)) THEN
        BEGIN
          WITH ins AS (
            INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, note, guild_id)
            SELECT p_kind, v_sender, r.id, p_each, p_currency, v_keys[r.ord], p_note, p_guild
            FROM unnest(v_receivers) WITH ORDINALITY AS r(id, ord)
            RETURNING id
          )
          SELECT array_agg(id ORDER BY id) INTO v_tip_ids FROM ins;
        EXCEPTION WHEN unique_violation THEN
          v_tip_ids := NULL;
        END;
      END IF;

      IF v_tip_ids IS NULL THEN
        -- A replay returns every leg of the first attempt (as many as it had: tips and rain have at most 25); a retry
        -- naming more recipients than the first attempt is a different tip under the same id.
        RETURN QUERY
          SELECT true,
                 array_agg(CASE WHEN j.ref ~ '^tip:[0-9]+$' THEN substr(j.ref, 5)::bigint ELSE j.id END ORDER BY l.leg),
                 j.from_user_id, array_agg(j.to_user_id ORDER BY l.leg), min(j.amount),
                 coalesce((SELECT a.amount FROM account_balances a WHERE a.user_id = j.from_user_id AND a.currency = j.currency), 0)
          FROM generate_series(0, 99) AS l(leg) JOIN journal j ON j.idempotency_key = p_kind || ':' || p_interaction || ':' || l.leg
          GROUP BY j.from_user_id, j.currency
          HAVING count(*) >= cardinality(v_receivers);
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'SB002', MESSAGE = 'idempotency key reused with different recipients';
        END IF;
        RETURN;
      END IF;

      -- The sender's row is the only lock a tip waits for; after it, nothing below waits on another transaction.
      v_total := p_each * cardinality(v_receivers);
      v_balance := ledger_debit(v_sender, p_currency, v_total);
      IF v_balance IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = 'insufficient funds', DETAIL = coalesce(
          (SELECT a.amount FROM account_balances a WHERE a.user_id = v_sender AND a.currency = p_currency), 0)::text;
      END IF;

      -- Receivers are never waited for: a row nobody holds is credited in place (a HOT update, no extra row); a held
      -- one (a hot receiver) or a missing one gets an unfolded credit instead. Waiting only for the sender's row also
      -- means A→B and B→A cannot deadlock, whatever the order.
      WITH got AS (
        SELECT b.id FROM balances b WHERE b.currency = p_currency AND b.user_id = ANY (v_receivers) FOR UPDATE SKIP LOCKED
      ), upd AS (
        UPDATE balances b SET amount = b.amount + p_each FROM got WHERE b.id = got.id RETURNING b.user_id
      )
      SELECT array_agg(user_id) INTO v_direct FROM upd;
      INSERT INTO balance_credits (user_id, currency, amount)
      SELECT r, p_currency, p_each FROM unnest(v_receivers) AS r WHERE v_direct IS NULL OR r <> ALL (v_direct);

      -- UPDATE first: an upsert's ON CONFLICT path writes a row-lock record to the WAL before its update, a plain
      -- UPDATE does not. The insert runs once per (guild, currency, day, sender).
      UPDATE tip_totals_daily d SET total = d.total + v_total, tips = d.tips + cardinality(v_receivers)
      WHERE d.guild_id = coalesce(p_guild, '') AND d.currency = p_currency AND d.day = (now() AT TIME ZONE 'UTC')::date
        AND d.sender_id = v_sender;
      IF NOT FOUND THEN
        INSERT INTO tip_totals_daily (guild_id, currency, day, sender_id, total, tips)
        VALUES (coalesce(p_guild, ''), p_currency, (now() AT TIME ZONE 'UTC')::date, v_sender, v_total, cardinality(v_receivers))
        ON CONFLICT ON CONSTRAINT tip_totals_daily_pkey -- the column list would clash with the OUT parameter sender_id
        DO UPDATE SET total = tip_totals_daily.total + excluded.total, tips = tip_totals_daily.tips + excluded.tips;
      END IF;

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    -- Every unfolded credit goes back into its balance row: the old schema has nowhere else to keep it.
    INSERT INTO balances (user_id, currency, amount)
    SELECT user_id, currency, sum(amount) FROM balance_credits GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (user_id, currency) DO UPDATE SET amount = balances.amount + excluded.amount;

    DROP VIEW tips;
    CREATE TABLE tips (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      interaction_id text NOT NULL,
      leg smallint NOT NULL,
      kind text NOT NULL CHECK (kind IN ('tip', 'rain')),
      sender_id bigint NOT NULL,
      receiver_id bigint NOT NULL,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      currency text NOT NULL,
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      guild_id text,
      CONSTRAINT tips_interaction_leg_key UNIQUE (interaction_id, leg),
      CONSTRAINT tips_not_self CHECK (sender_id <> receiver_id)
    );
    -- Tips made since the up migration are identified by their journal id; give them the old 'tip:<id>' ref.
    UPDATE journal SET ref = 'tip:' || id WHERE type IN ('tip', 'rain') AND ref IS NULL;
    INSERT INTO tips (id, interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note, created_at, guild_id)
    OVERRIDING SYSTEM VALUE
    SELECT substr(ref, 5)::bigint, substring(idempotency_key FROM '^[a-z]+:(.*):[0-9]+$'),
           substring(idempotency_key FROM ':([0-9]+)$')::smallint, type, from_user_id, to_user_id, amount, currency, note,
           created_at, guild_id
    FROM journal WHERE type IN ('tip', 'rain') ORDER BY id;
    SELECT setval(pg_get_serial_sequence('tips', 'id'), greatest((SELECT max(id) FROM tips), 1));
    CREATE INDEX tips_created_brin ON tips USING brin (created_at);
    CREATE INDEX tips_guild_leaderboard_idx ON tips (guild_id, currency, created_at) INCLUDE (sender_id, amount)
      WHERE guild_id IS NOT NULL;

    DROP FUNCTION ${TIP_SIGNATURE};
    DROP FUNCTION ledger_fold(integer);
    DROP FUNCTION ledger_debit(bigint, text, numeric);
    DROP VIEW account_balances;
    DROP TABLE balance_credits;
    DROP TABLE tip_totals_daily;
    ALTER TABLE journal DROP COLUMN note, DROP COLUMN guild_id;
    ALTER TABLE journal ADD CONSTRAINT journal_pkey PRIMARY KEY (id);
  `.execute(db);
  await sql`${sql.raw(LEDGER_TIP_140000)}`.execute(db);
}

/** ledger_tip() exactly as migration 2026_11_23_140000 created it (restored by down). */
const LEDGER_TIP_140000 = `
    CREATE FUNCTION ledger_tip(
      p_interaction text, p_kind text, p_currency text, p_each numeric, p_note text,
      p_sender_discord text, p_sender_name text, p_receiver_discord text[], p_receiver_names text[],
      p_guild text DEFAULT NULL
    ) RETURNS TABLE (replayed boolean, tip_ids bigint[], sender_id bigint, receiver_ids bigint[], each_amount numeric, sender_balance numeric)
    LANGUAGE plpgsql AS $$
    DECLARE
      v_sender bigint;
      v_receivers bigint[];
      v_tip_ids bigint[];
      v_total numeric(39, 0);
      v_balance numeric(39, 0);
    BEGIN
      INSERT INTO users (discord_id, username)
      SELECT d, n FROM unnest(p_receiver_discord || p_sender_discord, p_receiver_names || p_sender_name) AS u(d, n)
      WHERE NOT EXISTS (SELECT 1 FROM users x WHERE x.discord_id = u.d)
      ORDER BY d
      ON CONFLICT (discord_id) DO NOTHING;

      SELECT id INTO STRICT v_sender FROM users WHERE discord_id = p_sender_discord;
      SELECT array_agg(u.id ORDER BY r.ord) INTO v_receivers
      FROM unnest(p_receiver_discord) WITH ORDINALITY AS r(d, ord) JOIN users u ON u.discord_id = r.d;

      WITH ins AS (
        INSERT INTO tips (interaction_id, leg, kind, sender_id, receiver_id, amount, currency, note, guild_id)
        SELECT p_interaction, (r.ord - 1)::smallint, p_kind, v_sender, r.id, p_each, p_currency, p_note, p_guild
        FROM unnest(v_receivers) WITH ORDINALITY AS r(id, ord)
        ON CONFLICT (interaction_id, leg) DO NOTHING
        RETURNING id
      )
      SELECT array_agg(id ORDER BY id) INTO v_tip_ids FROM ins;

      IF v_tip_ids IS NULL THEN
        RETURN QUERY
          SELECT true, array_agg(t.id ORDER BY t.leg), t.sender_id, array_agg(t.receiver_id ORDER BY t.leg), min(t.amount),
                 coalesce((SELECT b.amount FROM balances b WHERE b.user_id = t.sender_id AND b.currency = t.currency), 0)
          FROM tips t WHERE t.interaction_id = p_interaction
          GROUP BY t.sender_id, t.currency;
        RETURN;
      END IF;
      IF cardinality(v_tip_ids) <> cardinality(v_receivers) THEN
        RAISE EXCEPTION USING ERRCODE = 'SB002', MESSAGE = 'idempotency key reused with different recipients';
      END IF;

      IF (SELECT count(*) FROM balances WHERE currency = p_currency AND user_id = ANY (v_receivers)) < cardinality(v_receivers) THEN
        INSERT INTO balances (user_id, currency)
        SELECT r, p_currency FROM unnest(v_receivers) AS r ORDER BY r
        ON CONFLICT (user_id, currency) DO NOTHING;
      END IF;

      INSERT INTO journal (type, from_user_id, to_user_id, amount, currency, idempotency_key, ref)
      SELECT p_kind, v_sender, v_receivers[r.ord], p_each, p_currency,
             p_kind || ':' || p_interaction || ':' || (r.ord - 1), 'tip:' || r.id
      FROM unnest(v_tip_ids) WITH ORDINALITY AS r(id, ord);

      PERFORM 1 FROM balances
      WHERE currency = p_currency AND user_id = ANY (v_receivers || v_sender)
      ORDER BY user_id
      FOR UPDATE;

      v_total := p_each * cardinality(v_receivers);
      SELECT amount INTO v_balance FROM balances WHERE user_id = v_sender AND currency = p_currency;
      IF coalesce(v_balance, 0) < v_total THEN
        RAISE EXCEPTION USING ERRCODE = 'SB001', MESSAGE = 'insufficient funds', DETAIL = coalesce(v_balance, 0)::text;
      END IF;
      UPDATE balances SET amount = amount + CASE WHEN user_id = v_sender THEN -v_total ELSE p_each END
      WHERE currency = p_currency AND user_id = ANY (v_receivers || v_sender);
      v_balance := v_balance - v_total;

      RETURN QUERY SELECT false, v_tip_ids, v_sender, v_receivers, p_each, v_balance;
    END $$;
`;
