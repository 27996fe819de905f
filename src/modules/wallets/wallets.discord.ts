import { Routes, type Client } from 'discord.js';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import type { WalletNotifier } from './wallets.service';
import { walletLinkedText } from './wallets.views';

/**
 * Tells the user their wallet is linked: a DM (durable), and an edit of the ephemeral /wallet link reply so its
 * now-spent button disappears (possible while the interaction token lives, 15 minutes). Failures are logged only.
 * The port WalletsService takes at construction.
 */
export function walletDiscordNotifier(client: Client, log: Logger): WalletNotifier {
  const l = log.child({ component: 'wallet-notifier' });
  const send = dmSender(client, l, 'the wallet-link confirmation');
  return async (event) => {
    const text = walletLinkedText(event.address);
    const dm = send(event.discordId, text.dm);
    const edit = event.interaction
      ? client.rest
          .patch(Routes.webhookMessage(event.interaction.appId, event.interaction.token), {
            // Raw REST: discord.js adds no default, so the reply edit gets the same no-ping rule as the DM.
            body: { content: text.short, components: [], allowed_mentions: { parse: [] } },
            auth: false,
          })
          .catch((err: unknown) => l.debug({ err, discordId: event.discordId }, 'could not edit the /wallet link reply'))
      : undefined;
    await Promise.all([dm, edit]);
  };
}
