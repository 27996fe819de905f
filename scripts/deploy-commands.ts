// Registers every command under commands/ with Discord (or whatever DISCORD_API_URL points at).
//   tsx scripts/deploy-commands.ts                 global (can take a while to appear in real Discord)
//   tsx scripts/deploy-commands.ts --guild <id>    one guild, instant; `--guild` alone uses DISCORD_GUILD_ID
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config';
import { buildRegistry } from '../src/discord/command-loader';
import { createRest, deployCommands } from '../src/discord/deploy-commands';

const { values } = parseArgs({ options: { guild: { type: 'string' }, global: { type: 'boolean' } }, strict: false, allowPositionals: true });
const config = loadConfig();
if (!config.DISCORD_TOKEN || !config.DISCORD_APP_ID) {
  process.stderr.write('deploy-commands needs DISCORD_TOKEN and DISCORD_APP_ID\n');
  process.exit(1);
}
const guildFlag = values.guild;
const guildId = values.global ? undefined : typeof guildFlag === 'string' && guildFlag !== '' ? guildFlag : guildFlag === true ? config.DISCORD_GUILD_ID : undefined;
if (guildFlag === true && !guildId) {
  process.stderr.write('--guild needs an id or DISCORD_GUILD_ID\n');
  process.exit(1);
}

const registry = await buildRegistry();
const deployed = await deployCommands({
  rest: createRest(config.DISCORD_TOKEN, config.DISCORD_API_URL),
  appId: config.DISCORD_APP_ID,
  commands: registry,
  ...(guildId ? { guildId } : {}),
});
process.stdout.write(`Deployed ${deployed.length} commands ${guildId ? `to guild ${guildId}` : 'globally'}: ${deployed.map((c) => `/${c.name}`).join(' ')}\n`);
