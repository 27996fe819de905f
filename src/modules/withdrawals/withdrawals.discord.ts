import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { isFinalDmRefusal, sendDm } from '../../discord/dm';
import type { Logger } from '../../logger';
import { Currencies } from '../ledger/currencies';
import type { WithdrawalNotifier } from './withdrawals.service';
import { withdrawalText } from './withdrawals.views';
import { fetchChannelOnAnyShard } from '../../discord/channels';

/**
 * The port WithdrawalsService takes as `notify`: DMs the member a confirmed or refunded withdrawal, and posts a
 * `payouts-capped` alert (no pings) in OPERATOR_LOG_CHANNEL_ID when the hourly cap holds payouts (dropped when unset).
 */
export function withdrawalDiscordNotifier(client: Client, log: Logger, config: Pick<Config, 'LEDGER_TOKENS' | 'OPERATOR_LOG_CHANNEL_ID'>): WithdrawalNotifier {
  const currencies = Currencies.fromConfig(config);
  const l = log.child({ component: 'withdrawal-notifier' });
  const operatorLogChannelId = config.OPERATOR_LOG_CHANNEL_ID;
  return async (e) => {
    if (e.kind === 'payouts-capped') {
      if (!operatorLogChannelId) return;
      const f = (n: bigint) => currencies.format(n, e.currency.code);
      const text =
        `🚨 ${e.currency.code} payouts paused: ${f(e.releasedLastHour)} went out in the last hour (cap ${f(e.cap)}). ` +
        `Withdrawal #${e.waiting.id} (${f(e.waiting.amount)}) and later ones wait until the hour drains; nothing fails.`;
      await postToChannel(client, operatorLogChannelId, text).catch((err: unknown) =>
        l.error({ err, channelId: operatorLogChannelId }, 'could not post an operator alert'),
      );
      return;
    }
    // The member notice is an outbox row (see WithdrawalsService.deliverNotices): a refusal that retrying cannot
    // change is logged and the notice counts as delivered; anything else throws so the notice is sent again later.
    await sendDm(client, e.discordId, withdrawalText(currencies, e.withdrawal)).catch((err: unknown) => {
      if (isFinalDmRefusal(err)) {
        l.warn({ err, discordId: e.discordId }, 'could not DM a withdrawal notification');
        return;
      }
      throw err;
    });
  };
}

async function postToChannel(client: Client, channelId: string, content: string): Promise<void> {
  const channel = await fetchChannelOnAnyShard(client, channelId);
  if (!channel?.isSendable()) throw new Error(`channel ${channelId} cannot take messages`);
  await channel.send({ content, allowedMentions: { parse: [] } });
}
