import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from './logger';

/** A logger writing to memory, and what it wrote. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: createLogger('trace', 'test', stream), text: () => lines.join(''), json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

// Each secret is distinctive text, so "not in the output" means not anywhere, at any depth, in any form.
const SECRETS = {
  dbPassword: 'pg-pass-5e1d9',
  discordToken: 'MTA5.discord-token-77aa',
  adminToken: 'admin-token-c0ffee',
  treasury: '[12,34,56,78,secret-key-bytes]',
  bearer: 'Bearer api-bearer-1f2e',
  cookie: 'session=cookie-val-9b9b',
  rpcKey: 'rpc-api-key-4242',
  apiKey: 'x-api-key-value-31',
};
const databaseUrl = `postgres://solbound:${SECRETS.dbPassword}@127.0.0.1:5432/solbound`;

const expectNoSecrets = (text: string) => {
  for (const [name, secret] of Object.entries(SECRETS)) expect({ name, leaked: text.includes(secret) }).toEqual({ name, leaked: false });
};

describe('logger redaction at any depth', () => {
  it('nested config, headers and credentials inside strings never reach the output', () => {
    const { log, text, json } = capture();
    const config = {
      DATABASE_URL: databaseUrl,
      DISCORD_TOKEN: SECRETS.discordToken,
      ADMIN_TOKEN: SECRETS.adminToken,
      TREASURY_SECRET_KEY: SECRETS.treasury,
      SOLANA_RPC_URL: `https://rpc.example.com/?api-key=${SECRETS.rpcKey}`,
      LEDGER_TOKENS: 'SOL,USDC',
    };
    log.info({ config }, 'top level');
    log.info({ ctx: { app: { deep: { deeper: { config } } } } }, 'five levels down');
    log.info({ services: [{ name: 'db', options: { connectionString: databaseUrl, pool: { max: 4 } } }] }, 'in an array');
    log.warn(
      { req: { method: 'GET', headers: { authorization: SECRETS.bearer, cookie: SECRETS.cookie, 'x-api-key': SECRETS.apiKey, accept: 'json' } } },
      'request',
    );
    log.info({ wallet: { secretKey: SECRETS.treasury, publicKey: 'PUB' }, client: { accessToken: SECRETS.adminToken } }, 'camelCase');
    log.info(`connecting to ${databaseUrl}`);
    log.info({ note: `retrying ${config.SOLANA_RPC_URL}` }, 'value strings');
    expectNoSecrets(text());

    const [top, deep, arr, req, camel, msg] = json();
    expect(top!.config).toMatchObject({ DATABASE_URL: REDACTED, DISCORD_TOKEN: REDACTED, ADMIN_TOKEN: REDACTED, TREASURY_SECRET_KEY: REDACTED });
    // Not secrets: kept, so logs stay useful.
    expect(top!.config).toMatchObject({ LEDGER_TOKENS: 'SOL,USDC', SOLANA_RPC_URL: `https://rpc.example.com/?api-key=${REDACTED}` });
    expect(deep).toMatchObject({ ctx: { app: { deep: { deeper: { config: { DATABASE_URL: REDACTED } } } } } });
    expect(arr).toMatchObject({ services: [{ name: 'db', options: { connectionString: REDACTED, pool: { max: 4 } } }] });
    expect(req).toMatchObject({ req: { headers: { authorization: REDACTED, cookie: REDACTED, 'x-api-key': REDACTED, accept: 'json' } } });
    expect(camel).toMatchObject({ wallet: { secretKey: REDACTED, publicKey: 'PUB' }, client: { accessToken: REDACTED } });
    expect(msg!.msg).toBe(`connecting to postgres://solbound:${REDACTED}@127.0.0.1:5432/solbound`);
  });

  it('errors: message, stack, own fields and causes are redacted; the usual err shape stays', () => {
    const { log, text, json } = capture();
    const cause = Object.assign(new Error(`connect failed for ${databaseUrl}`), { config: { password: SECRETS.dbPassword } });
    const err = Object.assign(new Error('startup failed', { cause }), { options: { nested: { DISCORD_TOKEN: SECRETS.discordToken } } });
    log.error({ err }, 'boom');
    log.error(cause);
    log.error({ wrapped: { inner: [err] } }, 'error deep in an object');
    expectNoSecrets(text());
    const [first, second] = json();
    expect(first!.err).toMatchObject({ type: 'Error', message: expect.stringMatching(/^startup failed/), options: { nested: { DISCORD_TOKEN: REDACTED } } });
    expect(String((first!.err as { stack: string }).stack)).toContain('startup failed');
    expect(second!.msg).toBe(`connect failed for postgres://solbound:${REDACTED}@127.0.0.1:5432/solbound`);
    expect(second!.err).toMatchObject({ type: 'Error', config: { password: REDACTED } });
  });

  it('child logger bindings are redacted at every level; circular objects do not break logging', () => {
    const { log, text, json } = capture();
    const circular: Record<string, unknown> = { DATABASE_URL: databaseUrl };
    circular.self = circular;
    log.child({ config: { DISCORD_TOKEN: SECRETS.discordToken } }).child({ deps: { db: { url: databaseUrl } } }).info({ circular }, 'child');
    expectNoSecrets(text());
    expect(json()[0]).toMatchObject({ config: { DISCORD_TOKEN: REDACTED }, circular: { DATABASE_URL: REDACTED, self: '[Circular]' } });
  });
});
