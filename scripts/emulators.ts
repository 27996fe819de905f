// The Discord and Solana emulators as their own process, for any number of bot processes to share:
//   npm run emulators [-- --shards 4 --guilds 8 --discord-port 3210 --solana-port 8899 --env-file .data/emulators.env]
// Prints the configuration that points a bot at them (KEY=value lines, also written to --env-file), then serves
// until SIGTERM/SIGINT. Commands are not registered: run `npm run deploy-commands` with that environment.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startEmulators } from '../src/sandbox/emulators';

const { values } = parseArgs({
  options: {
    shards: { type: 'string', default: '1' },
    guilds: { type: 'string', default: '1' },
    'discord-port': { type: 'string', default: '0' },
    'solana-port': { type: 'string', default: '0' },
    'env-file': { type: 'string' },
  },
});
function count(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 65_535) {
    process.stderr.write(`--${name} must be a whole number from ${min} (got "${value}")\n`);
    process.exit(1);
  }
  return n;
}
const shards = count('shards', values.shards, 1);
const guilds = count('guilds', values.guilds, 1);
const emulators = await startEmulators({
  shards,
  extraGuilds: guilds - 1,
  discordPort: count('discord-port', values['discord-port'], 0),
  solanaPort: count('solana-port', values['solana-port'], 0),
});
const env = Object.entries(emulators.env).map(([k, v]) => `${k}=${v}`).join('\n');
if (values['env-file']) writeFileSync(values['env-file'], `${env}\n`, { mode: 0o600 });
process.stdout.write(
  `# Discord emulator ${emulators.discord.url} (${guilds} guilds, ${shards} shards), Solana emulator ${emulators.solana.rpcUrl}\n` +
    `${env}\n# ready\n`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`${signal}: stopping the emulators\n`);
  await emulators.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
