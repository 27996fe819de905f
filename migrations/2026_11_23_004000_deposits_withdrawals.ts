import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
//
// On-chain money in and out of the ledger. Amounts are NUMERIC(39,0) base units like the ledger's.
// - deposits: one row per /deposit intent, keyed by its Solana Pay reference; the paying signature is UNIQUE, so a
//   signature credits at most one deposit (and the journal key deposit:<signature> makes the credit itself unique).
// - withdraw_methods: per-currency limits. `enabled` is the admin's switch; `paused_at/paused_reason` belong to the
//   solvency check, which can pause and later resume a currency without overriding an admin's decision.
// - withdrawals: an outbox. The signed transaction (signature, wire bytes, blockhash, last valid block height) is
//   committed before it is sent, so after any crash the processor knows exactly which transaction may be in flight.

const NEW_JOURNAL_TYPES = ['deposit', 'withdrawal', 'withdrawal_refund'];

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
  // Extends whatever the ledger migration allowed, rather than restating its list.
  const current = await journalTypes(db);
  await setJournalTypes(db, [...new Set([...current, ...NEW_JOURNAL_TYPES])]);

  await sql`
    CREATE TABLE deposits (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      currency text NOT NULL,
      expected_amount numeric(39, 0) NOT NULL CHECK (expected_amount > 0),
      reference text NOT NULL,
      -- The treasury address shown in the URL; a later key rotation must not make old intents unverifiable.
      recipient text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'credited', 'expired', 'failed')),
      signature text,
      received_amount numeric(39, 0) CHECK (received_amount > 0),
      -- Why the last transaction seen for the reference did not qualify (failed on chain, wrong mint…).
      failure_reason text,
      interaction_id text NOT NULL,
      expires_at timestamptz NOT NULL,
      credited_at timestamptz,
      checked_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT deposits_reference_key UNIQUE (reference),
      CONSTRAINT deposits_signature_key UNIQUE (signature),
      CONSTRAINT deposits_interaction_key UNIQUE (interaction_id),
      CONSTRAINT deposits_credited_complete CHECK (
        status <> 'credited' OR (signature IS NOT NULL AND received_amount IS NOT NULL AND credited_at IS NOT NULL)
      )
    );
    CREATE INDEX deposits_pending_idx ON deposits (id) WHERE status = 'pending';
    CREATE INDEX deposits_user_idx ON deposits (user_id, id);
    CREATE TRIGGER deposits_updated_at BEFORE UPDATE ON deposits FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE withdraw_methods (
      currency text PRIMARY KEY,
      enabled boolean NOT NULL DEFAULT true,
      min_amount numeric(39, 0) NOT NULL CHECK (min_amount > 0),
      max_amount numeric(39, 0) NOT NULL,
      -- Withdrawals above this wait for a moderator's approval.
      approval_threshold numeric(39, 0) NOT NULL CHECK (approval_threshold >= 0),
      -- Flat fee in base units charged on top of the amount (the treasury pays the network fee).
      fee numeric(39, 0) NOT NULL DEFAULT 0 CHECK (fee >= 0),
      paused_at timestamptz,
      paused_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT withdraw_methods_range CHECK (max_amount >= min_amount),
      CONSTRAINT withdraw_methods_pause_reason CHECK ((paused_at IS NULL) = (paused_reason IS NULL))
    );
    CREATE TRIGGER withdraw_methods_updated_at BEFORE UPDATE ON withdraw_methods FOR EACH ROW EXECUTE FUNCTION set_updated_at();
    -- SOL is always a currency; configured tokens get their defaults from the app (this migration cannot read config).
    INSERT INTO withdraw_methods (currency, min_amount, max_amount, approval_threshold)
    VALUES ('SOL', 1000000, 100000000000, 10000000000);

    CREATE TABLE withdrawals (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
      currency text NOT NULL,
      amount numeric(39, 0) NOT NULL CHECK (amount > 0),
      fee numeric(39, 0) NOT NULL DEFAULT 0 CHECK (fee >= 0),
      destination text NOT NULL,
      status text NOT NULL CHECK (status IN ('requested', 'approved', 'sent', 'confirmed', 'failed', 'refunded')),
      idempotency_key text NOT NULL,
      approved_by text,
      approved_at timestamptz,
      -- The transaction that may be in flight; replaced only once it is proven dead (blockhash expired, not landed).
      signature text,
      serialized_tx text,
      blockhash text,
      last_valid_block_height bigint,
      previous_signatures text[] NOT NULL DEFAULT '{}',
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      failure_reason text,
      sent_at timestamptz,
      confirmed_at timestamptz,
      refunded_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT withdrawals_idempotency_key_key UNIQUE (idempotency_key),
      CONSTRAINT withdrawals_signature_key UNIQUE (signature),
      CONSTRAINT withdrawals_tx_complete CHECK (
        (signature IS NULL) = (serialized_tx IS NULL) AND (signature IS NULL) = (last_valid_block_height IS NULL)
      ),
      CONSTRAINT withdrawals_sent_signed CHECK (status NOT IN ('sent', 'confirmed') OR signature IS NOT NULL)
    );
    CREATE INDEX withdrawals_open_idx ON withdrawals (id) WHERE status IN ('requested', 'approved', 'sent', 'failed');
    CREATE INDEX withdrawals_user_idx ON withdrawals (user_id, id);
    CREATE TRIGGER withdrawals_updated_at BEFORE UPDATE ON withdrawals FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE withdrawals;
    DROP TABLE withdraw_methods;
    DROP TABLE deposits;
  `.execute(db);
  // Fails (as it should) while journal rows of these types exist.
  const current = await journalTypes(db);
  await setJournalTypes(db, current.filter((t) => !NEW_JOURNAL_TYPES.includes(t)));
}
