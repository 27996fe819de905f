import type { Client } from 'discord.js';
import type { Logger } from '../logger';

/**
 * A DM sender for notifications about changes already committed: a failure (DMs closed, user gone) is logged only,
 * never thrown, so it cannot turn the change it reports into an error.
 */
export function dmSender(client: Client, log: Logger, what: string) {
  return (discordId: string, content: string): Promise<void> =>
    client.users.send(discordId, content).then(
      () => undefined,
      (err: unknown) => log.warn({ err, discordId }, `could not DM ${what}`),
    );
}
