import { describe, expect, it } from 'vitest';
import { spawnTsx } from '../src/testing/child-process';

describe('npm run emulators', () => {
  it('serves Discord and Solana on their own, prints the env that points bots at them, and stops on SIGTERM', async () => {
    const child = spawnTsx('scripts/emulators.ts', ['--shards', '2', '--guilds', '3'], process.env);
    try {
      await child.waitForLine((l) => l.raw === '# ready');
      const env = Object.fromEntries(child.lines.map((l) => /^([A-Z_]+)=(.*)$/.exec(l.raw)).filter((m) => m !== null).map((m) => [m[1], m[2]]));
      expect(Object.keys(env).sort()).toEqual(
        ['BADGE_ISSUER_SECRET_KEY', 'DISCORD_API_URL', 'DISCORD_APP_ID', 'DISCORD_GUILD_ID', 'DISCORD_TOKEN', 'LEDGER_TOKENS', 'SHARD_COUNT', 'SOLANA_CLUSTER', 'SOLANA_RPC_URL', 'SOLANA_WS_URL', 'TREASURY_SECRET_KEY'].sort(),
      );
      const gateway = (await (await fetch(`${env.DISCORD_API_URL}/v10/gateway/bot`, { headers: { authorization: `Bot ${env.DISCORD_TOKEN}` } })).json()) as { shards: number };
      expect(gateway.shards).toBe(2);
      expect(env.SHARD_COUNT).toBe('2');
      // The printed treasury is funded on the printed cluster.
      const { Keypair } = await import('@solana/web3.js');
      const treasury = Keypair.fromSecretKey(Uint8Array.from(JSON.parse(env.TREASURY_SECRET_KEY!) as number[])).publicKey.toBase58();
      const rpc = (await (await fetch(env.SOLANA_RPC_URL!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'getBalance', params: [treasury] }) })).json()) as { result: { value: number } };
      expect(rpc.result.value).toBeGreaterThan(0);
    } finally {
      expect(await child.stop('SIGTERM')).toBe(0);
    }
  }, 60_000);
});
