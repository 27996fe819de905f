import { Routes, type Client } from 'discord.js';
import type { Logger } from '../../logger';
import type { WalletNotifier } from './wallets.service';

/**
 * Tells the user their wallet is linked: a DM (durable), and an edit of the ephemeral /wallet link reply so its
 * now-spent button disappears (possible while the interaction token lives, 15 minutes). Failures are logged only.
 *
 * Wire once the client is logged in: `ctx.services.wallets.setNotifier(createDiscordWalletNotifier(client, log))`.
 */
export function createDiscordWalletNotifier(client: Client, log: Logger): WalletNotifier {
  const l = log.child({ component: 'wallet-notifier' });
  return async (event) => {
    const text = `✅ Wallet \`${event.address}\` is now linked to your Discord account.`;
    const dm = client.users
      .send(event.discordId, `${text} Use \`/wallet status\` to see it or \`/wallet unlink\` to remove it.`)
      .catch((err: unknown) => l.warn({ err, discordId: event.discordId }, 'could not DM the wallet-link confirmation'));
    const edit = event.interaction
      ? client.rest
          .patch(Routes.webhookMessage(event.interaction.appId, event.interaction.token), {
            body: { content: text, components: [] },
            auth: false,
          })
          .catch((err: unknown) => l.debug({ err, discordId: event.discordId }, 'could not edit the /wallet link reply'))
      : undefined;
    await Promise.all([dm, edit]);
  };
}
