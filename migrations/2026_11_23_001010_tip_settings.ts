import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here.
// A member's own "ask me to confirm tips above" amount per currency; without a row the TIP_CONFIRM_ABOVE default applies.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE tip_settings (
      user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      currency text NOT NULL,
      confirm_above numeric(39, 0) NOT NULL CHECK (confirm_above >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, currency)
    );
    CREATE TRIGGER tip_settings_updated_at BEFORE UPDATE ON tip_settings FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('tip_settings').execute();
}
