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
export function wirePaymentNotifiers(services: Pick<Services, 'deposits' | 'withdrawals' | 'ledger'>, client: Client, log: Logger): void {
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
    await dm(e.discordId, withdrawalText(services.ledger.currencies, e.withdrawal));
  });
}
