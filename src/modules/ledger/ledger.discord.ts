import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { fetchChannelOnAnyShard } from '../../discord/channels';
import { Currencies } from './currencies';
import type { AirdropEffects } from './ledger.service';
import { airdropView } from './ledger.views';

/**
 * The ledger's Discord side effects outside interactions, bound to the client. The interaction token of the /airdrop
 * reply is long gone when an airdrop expires, so the message is edited through the channel (bot-authored), from
 * whichever replica ran the expiry job (not necessarily the one holding the guild's shard).
 */
export function airdropDiscordEffects(client: Client, config: Pick<Config, 'LEDGER_TOKENS'>): AirdropEffects {
  const currencies = Currencies.fromConfig(config);
  return {
    async airdropClosed(airdrop) {
      if (!airdrop.channel_id || !airdrop.message_id) return;
      const channel = await fetchChannelOnAnyShard(client, airdrop.channel_id);
      if (!channel?.isTextBased()) throw new Error(`airdrop ${airdrop.id}: channel ${airdrop.channel_id} is not a text channel`);
      await channel.messages.edit(airdrop.message_id, airdropView(currencies, airdrop));
    },
  };
}
