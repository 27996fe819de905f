import type { Client } from 'discord.js';
import type { Config } from '../../config';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import { Currencies } from '../ledger/currencies';
import type { DepositNotifier } from './deposits.service';
import { depositCreditedText } from './deposits.views';

/** DMs the member that their deposit was credited (the port DepositsService takes as `notify`). */
export function depositDiscordNotifier(client: Client, log: Logger, config: Pick<Config, 'LEDGER_TOKENS'>): DepositNotifier {
  const currencies = Currencies.fromConfig(config);
  const dm = dmSender(client, log.child({ component: 'deposit-notifier' }), 'a deposit notification');
  return (e) => dm(e.discordId, depositCreditedText(currencies, e));
}
