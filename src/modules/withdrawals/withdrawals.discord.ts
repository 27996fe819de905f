import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import { Currencies } from '../ledger/currencies';
import type { WithdrawalNotifier } from './withdrawals.service';
import { withdrawalText } from './withdrawals.views';

/** DMs the member a confirmed or refunded withdrawal (the port WithdrawalsService takes as `notify`). */
export function withdrawalDiscordNotifier(client: Client, log: Logger, config: Pick<Config, 'LEDGER_TOKENS'>): WithdrawalNotifier {
  const currencies = Currencies.fromConfig(config);
  const dm = dmSender(client, log.child({ component: 'withdrawal-notifier' }), 'a withdrawal notification');
  return async (e) => {
    await dm(e.discordId, withdrawalText(currencies, e.withdrawal));
  };
}
