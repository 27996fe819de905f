import type { Client } from 'discord.js';
import type { AirdropEffects, LedgerService } from './ledger.service';
import { airdropView } from './ledger.views';

/**
 * The ledger's Discord side effects outside interactions, bound to a logged-in client. The interaction token of the
 * /airdrop reply is long gone when an airdrop expires, so the message is edited through the channel (bot-authored).
 */
export function airdropDiscordEffects(client: Client, ledger: LedgerService): AirdropEffects {
  return {
    async airdropClosed(airdrop) {
      if (!airdrop.channel_id || !airdrop.message_id) return;
      const channel = await client.channels.fetch(airdrop.channel_id);
      if (!channel?.isTextBased()) throw new Error(`airdrop ${airdrop.id}: channel ${airdrop.channel_id} is not a text channel`);
      await channel.messages.edit(airdrop.message_id, airdropView(ledger, airdrop));
    },
  };
}
