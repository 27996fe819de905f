import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// Outbox write cost on the tip path (issue 16 bench: tips/s with one subscribed endpoint per receiver ≥ 0.85× without).
// Before this, a subscribed tip added ~1,260 WAL bytes (2.5× the tip's own ~830) and ~15–30 % of its throughput:
//
// - The tip.received payload was built in the tip's transaction (two users lookups, a ~300-byte jsonb written to the
//   heap and the WAL). The journal row already holds every fact of it and is never updated or deleted, so a tip event
//   now stores only journal_id and the payload is built when it is delivered (webhook_event_body()), from the same
//   rows, to the same JSON. Other event types keep their stored payload (their rows change later: a badge, a
//   subscription), so "what happened" is frozen at the change for them.
// - Three foreign keys each ran an RI query and took FOR KEY SHARE on the row they point to, i.e. a WAL record and a
//   dirtied page per tip on the receiver's users row and on their endpoint row (a MultiXact when tips to one member
//   overlap) — exactly what ledger_tip() avoids by having no FK on journal. Their guarantees, checked per statement:
//   * webhook_events.owner_user_id → users ON DELETE CASCADE and webhook_deliveries.event_id → webhook_events ON
//     DELETE CASCADE: statement-level AFTER DELETE triggers on users and webhook_events delete the same rows. Inserts
//     take the owner from the row being changed (a journal leg, a wallet, a badge, a subscription: users with those
//     cannot be deleted, balances and subscriptions RESTRICT it) and the event from the same statement, so nothing
//     is left to check on insert.
//   * webhook_deliveries.endpoint_id → webhook_endpoints ON DELETE CASCADE: a statement-level trigger on
//     webhook_endpoints. Endpoints are never deleted by the bot (they are disabled); only deleting their user or
//     client environment removes them. A delivery inserted by a tip committing while its endpoint is being deleted
//     could outlive it: claimDue() inner-joins the active endpoint, so such a row is never sent, only kept.
// - webhook_events.id was 'msg_' + a random UUID: each insert landed on a random leaf of the primary key and of
//   webhook_deliveries' (event_id, endpoint_id) key, i.e. a full-page image per insert after each checkpoint. Ids are
//   still 'msg_' + 32 hex digits, stable per event, but start with the time in milliseconds, so both indexes grow at
//   their right edge.
// - webhook_events_created_at (a btree only for replays over a time range) becomes BRIN: created_at follows insertion
//   order. An insert into a page range no VACUUM has summarized yet costs nothing; small ranges (16 pages, ~1,000
//   events) keep the summarized, updated-per-insert part short.
// - webhook_emit() inserts the deliveries first and the event only if there was one, instead of asking whether an
//   endpoint exists and then reading the endpoints again.
//
// Delivery cost (issue 16 bench: deliveries/s ≥ 0.5× plain POSTs). Signing, JSON and the sender are ~2 % of the CPU; the
// claim was most of the rest: its lease moved next_attempt_at, an indexed column, so every claimed row was a non-HOT
// update writing a new entry into all four indexes of webhook_deliveries (~7 WAL records, ~800 bytes per row).
// - The lease is its own column, leased_until, in no index: the claim changes only non-indexed columns, so its update
//   is HOT when the page has room. The due scan (webhook_deliveries_due, unchanged) still finds leased rows and skips
//   them by leased_until: at most the batches in flight. A retry (markFailed), an operator retry or a replay clears
//   the lease with the new next_attempt_at.
// - fillfactor 50: a claim updates up to 50 rows inserted together, i.e. whole pages, in one transaction, so a page
//   needs room for a second version of each of its rows (measured: 70 still left most claims non-HOT).
// - Mark-delivered stays a non-HOT update (status is the due index's predicate: a delivered row must leave it); moving
//   delivered rows elsewhere would change the admin listing, operator retry and replay, which read them here.
//
// "No event without the change, no change without the event" is unchanged: all of it still happens in the trigger,
// inside the changing transaction.

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** [trigger and function name, deleted table, referencing table, referencing column]: the dropped foreign keys' ON DELETE CASCADE. */
const CASCADES = [
  ['webhook_events_users_deleted', 'users', 'webhook_events', 'owner_user_id'],
  ['webhook_deliveries_events_deleted', 'webhook_events', 'webhook_deliveries', 'event_id'],
  ['webhook_deliveries_endpoints_deleted', 'webhook_endpoints', 'webhook_deliveries', 'endpoint_id'],
] as const;

const cascade = ([name, parent, child, column]: (typeof CASCADES)[number]) => `
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM ${child} WHERE ${column} IN (SELECT id FROM old_rows);
      RETURN NULL;
    END $$;
    CREATE TRIGGER ${name} AFTER DELETE ON ${parent}
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${name}();`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql
    .raw(
      `
    ALTER TABLE webhook_events ADD COLUMN journal_id bigint;
    ALTER TABLE webhook_events ALTER COLUMN payload DROP NOT NULL;
    ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_payload_or_journal
      CHECK (payload IS NOT NULL OR (type = 'tip.received' AND journal_id IS NOT NULL));

    ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_owner_user_id_fkey;
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey;
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;

    ${CASCADES.map(cascade).join('\n')}

    ALTER TABLE webhook_deliveries ADD COLUMN leased_until timestamptz;
    ALTER TABLE webhook_deliveries SET (fillfactor = 50);

    DROP INDEX webhook_events_created_at;
    CREATE INDEX webhook_events_created_at ON webhook_events USING brin (created_at) WITH (pages_per_range = 16);

    -- 'msg_' + 32 hex digits like before: 12 of milliseconds since the epoch, then 20 random ones (80 bits).
    CREATE FUNCTION webhook_event_id() RETURNS text LANGUAGE sql VOLATILE AS $$
      SELECT 'msg_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
                    || substr(replace(gen_random_uuid()::text, '-', ''), 13)
    $$;

    CREATE OR REPLACE FUNCTION webhook_emit(p_type text, p_owner bigint, p_payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      v_id text := webhook_event_id();
    BEGIN
      INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT v_id, e.id FROM webhook_endpoints e WHERE e.owner_user_id = p_owner AND e.active AND p_type = ANY (e.event_types);
      IF FOUND THEN
        INSERT INTO webhook_events (id, type, owner_user_id, payload) VALUES (v_id, p_type, p_owner, p_payload);
      END IF;
    END $$;

    CREATE OR REPLACE FUNCTION webhooks_journal_tip() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      v_id text := webhook_event_id();
    BEGIN
      INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT v_id, e.id FROM webhook_endpoints e WHERE e.owner_user_id = NEW.to_user_id AND e.active AND 'tip.received' = ANY (e.event_types);
      IF FOUND THEN
        INSERT INTO webhook_events (id, type, owner_user_id, journal_id, created_at) VALUES (v_id, 'tip.received', NEW.to_user_id, NEW.id, NEW.created_at);
      END IF;
      RETURN NULL;
    END $$;

    -- The tip.received payload as migration 2026_11_28_160000 stored it, from the journal leg. journal has no index on
    -- id alone (2026_11_28_130000 dropped its primary key): the leg is found through journal_to_user_idx
    -- (to_user_id, id) with the receiver, the event's owner; by id alone it was a scan of the whole journal per body.
    CREATE FUNCTION webhook_tip_payload(p_journal_id bigint, p_receiver bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'tipId', j.id::text,
        'senderDiscordId', (SELECT discord_id FROM users WHERE id = j.from_user_id),
        'receiverDiscordId', (SELECT discord_id FROM users WHERE id = j.to_user_id),
        'amount', j.amount::text,
        'currency', j.currency,
        'note', j.note,
        'guildId', j.guild_id,
        'createdAt', to_char(j.created_at AT TIME ZONE 'UTC', ${ISO}))
      FROM journal j WHERE j.to_user_id = p_receiver AND j.id = p_journal_id
    $$;

    -- The request body of an event (Standard Webhooks' {type, timestamp, data}), built by the database so the sender
    -- neither parses nor re-serializes the payload.
    CREATE FUNCTION webhook_event_body(p_type text, p_created_at timestamptz, p_payload jsonb, p_journal_id bigint, p_owner bigint) RETURNS text LANGUAGE sql STABLE AS $$
      SELECT json_build_object(
        'type', p_type,
        'timestamp', to_char(p_created_at AT TIME ZONE 'UTC', ${ISO}),
        'data', coalesce(p_payload, webhook_tip_payload(p_journal_id, p_owner)))::text
    $$;

    -- The delivery job's two statements, as functions so their plans are cached per connection (planning was ~15 % of
    -- a claim). Same statements as src/modules/webhooks/webhooks.repository.ts had inline; see claimDue() there.
    CREATE FUNCTION webhook_claim_due(p_limit int, p_lease_seconds int)
      RETURNS TABLE (id bigint, event_id text, endpoint_id bigint, attempts int, body text, url text, secret text, previous_secret text)
      LANGUAGE plpgsql AS $$
    BEGIN
      RETURN QUERY
      WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.active
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until <= now())
        ORDER BY d.next_attempt_at
        LIMIT p_limit
        FOR UPDATE OF d SKIP LOCKED
      ), leased AS (
        UPDATE webhook_deliveries d
        SET leased_until = now() + make_interval(secs => p_lease_seconds), attempts = d.attempts + 1, last_attempt_at = now()
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.event_id, d.endpoint_id, d.attempts
      )
      SELECT l.id, l.event_id, l.endpoint_id, l.attempts, webhook_event_body(ev.type, ev.created_at, ev.payload, ev.journal_id, ev.owner_user_id),
        ep.url, ep.secret, CASE WHEN ep.previous_secret_expires_at > now() THEN ep.previous_secret END
      FROM leased l
      JOIN webhook_events ev ON ev.id = l.event_id
      JOIN webhook_endpoints ep ON ep.id = l.endpoint_id;
    END $$;

    CREATE FUNCTION webhook_mark_delivered(p_ids bigint[], p_statuses int[], p_responses text[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      WITH v AS (
        SELECT * FROM unnest(p_ids, p_statuses, p_responses) AS v(id, status, response)
      ), d AS (
        UPDATE webhook_deliveries d
        SET status = 'delivered', delivered_at = now(), last_status = v.status, last_response = v.response, last_error = NULL, leased_until = NULL
        FROM v WHERE d.id = v.id
        RETURNING d.endpoint_id
      )
      UPDATE webhook_endpoints SET failing_since = NULL WHERE webhook_endpoints.id IN (SELECT d.endpoint_id FROM d) AND failing_since IS NOT NULL;
    END $$;
  `,
    )
    .execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql
    .raw(
      `
    UPDATE webhook_events SET payload = webhook_tip_payload(journal_id, owner_user_id) WHERE payload IS NULL;
    -- Rows whose journal leg is gone cannot be rebuilt, and rows left behind by a deleted endpoint (see above) would
    -- fail the restored foreign keys; neither could ever be delivered.
    DELETE FROM webhook_events WHERE payload IS NULL;
    DELETE FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM webhook_events ev WHERE ev.id = d.event_id)
      OR NOT EXISTS (SELECT 1 FROM webhook_endpoints ep WHERE ep.id = d.endpoint_id);
    DELETE FROM webhook_events ev WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = ev.owner_user_id);

    DROP FUNCTION webhook_mark_delivered(bigint[], int[], text[]);
    DROP FUNCTION webhook_claim_due(int, int);
    -- Leases in flight keep their rows off the due scan the old way: next_attempt_at moves to the lease's end.
    UPDATE webhook_deliveries SET next_attempt_at = leased_until WHERE status = 'pending' AND leased_until > next_attempt_at;
    ALTER TABLE webhook_deliveries DROP COLUMN leased_until;
    ALTER TABLE webhook_deliveries RESET (fillfactor);
    DROP FUNCTION webhook_event_body(text, timestamptz, jsonb, bigint, bigint);
    DROP FUNCTION webhook_tip_payload(bigint, bigint);

    CREATE OR REPLACE FUNCTION webhooks_journal_tip() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM webhook_emit('tip.received', NEW.to_user_id, jsonb_build_object(
        'tipId', NEW.id::text,
        'senderDiscordId', (SELECT discord_id FROM users WHERE id = NEW.from_user_id),
        'receiverDiscordId', (SELECT discord_id FROM users WHERE id = NEW.to_user_id),
        'amount', NEW.amount::text,
        'currency', NEW.currency,
        'note', NEW.note,
        'guildId', NEW.guild_id,
        'createdAt', to_char(NEW.created_at AT TIME ZONE 'UTC', ${ISO})));
      RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION webhook_emit(p_type text, p_owner bigint, p_payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      v_id text;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE owner_user_id = p_owner AND active AND p_type = ANY (event_types)) THEN
        RETURN;
      END IF;
      v_id := 'msg_' || replace(gen_random_uuid()::text, '-', '');
      INSERT INTO webhook_events (id, type, owner_user_id, payload) VALUES (v_id, p_type, p_owner, p_payload);
      INSERT INTO webhook_deliveries (event_id, endpoint_id)
        SELECT v_id, e.id FROM webhook_endpoints e WHERE e.owner_user_id = p_owner AND e.active AND p_type = ANY (e.event_types);
    END $$;
    DROP FUNCTION webhook_event_id();

    DROP INDEX webhook_events_created_at;
    CREATE INDEX webhook_events_created_at ON webhook_events (created_at);

    ${CASCADES.map(([name, parent]) => `DROP TRIGGER ${name} ON ${parent}; DROP FUNCTION ${name}();`).join('\n    ')}
    ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey
      FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE;
    ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey
      FOREIGN KEY (event_id) REFERENCES webhook_events (id) ON DELETE CASCADE;
    ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_owner_user_id_fkey
      FOREIGN KEY (owner_user_id) REFERENCES users (id) ON DELETE CASCADE;

    ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_payload_or_journal;
    ALTER TABLE webhook_events ALTER COLUMN payload SET NOT NULL;
    ALTER TABLE webhook_events DROP COLUMN journal_id;
  `,
    )
    .execute(db);
}
