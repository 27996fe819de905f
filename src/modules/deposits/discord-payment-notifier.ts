import type { Client } from 'discord.js';
import type { Services } from '../../app-context';
import type { Logger } from '../../logger';
import { withdrawalText } from '../withdrawals/withdrawals.views';

/**
 * DMs members about on-chain money: a credited deposit, a confirmed or refunded withdrawal. Delivery failures
 * (DMs closed) are logged only — the ledger change is already committed.
 *
 * Wire once the client is logged in: `wirePaymentNotifiers(ctx.services, client, log)`.
 */
export function wirePaymentNotifiers(
  services: Pick<Services, 'deposits' | 'withdrawals' | 'ledger'>,
  client: Client,
  log: Logger,
  operatorLogChannelId?: string,
): void {
  const l = log.child({ component: 'payment-notifier' });
  const dm = (discordId: string, content: string) =>
    client.users.send(discordId, content).then(
      () => undefined,
      (err: unknown) => l.warn({ err, discordId }, 'could not DM a payment notification'),
    );
  services.deposits.setNotifier(async (e) => {
    const received = services.ledger.format(e.received, e.currency.code);
    const note = e.received === e.expected ? '' : ` (you asked for ${services.ledger.format(e.expected, e.currency.code)}; the amount that arrived is what counts)`;
    await dm(e.discordId, `💰 Deposit #${e.depositId} received: ${received} credited to your balance${note}. Transaction \`${e.signature}\`.`);
  });
  services.withdrawals.setNotifier(async (e) => {
    if (e.kind === 'payouts-capped') {
      if (!operatorLogChannelId) return;
      const f = (n: bigint) => services.ledger.format(n, e.currency.code);
      const text =
        `🚨 ${e.currency.code} payouts paused: ${f(e.releasedLastHour)} went out in the last hour (cap ${f(e.cap)}). ` +
        `Withdrawal #${e.waiting.id} (${f(e.waiting.amount)}) and later ones wait until the hour drains; nothing fails.`;
      await postToChannel(client, operatorLogChannelId, text).catch((err: unknown) => l.error({ err, channelId: operatorLogChannelId }, 'could not post an operator alert'));
      return;
    }
    await dm(e.discordId, withdrawalText(services.ledger.currencies, e.withdrawal));
  });
}

async function postToChannel(client: Client, channelId: string, content: string): Promise<void> {
  const channel = await client.channels.fetch(channelId);
  if (!channel?.isSendable()) throw new Error(`channel ${channelId} cannot take messages`);
  await channel.send({ content, allowedMentions: { parse: [] } });
}
