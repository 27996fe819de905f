import type { Client, MessageCreateOptions } from 'discord.js';
import type { Logger } from '../logger';

/** What a DM may carry; mentions are not the caller's to choose (see sendDm). */
export type DmContent = string | Omit<MessageCreateOptions, 'allowedMentions'>;

/**
 * The one way the bot DMs anyone. A DM never pings: text we put in it (a ticket subject, a close reason, an address)
 * may contain `@everyone` or `<@id>` written by someone else, so every DM goes out with `allowedMentions.parse = []`.
 * Throws like discord.js does (DMs closed, user unknown).
 */
export async function sendDm(client: Client, discordId: string, content: DmContent): Promise<void> {
  const options = typeof content === 'string' ? { content } : content;
  await client.users.send(discordId, { ...options, allowedMentions: { parse: [] } });
}

/**
 * A DM sender for notifications about changes already committed: a failure (DMs closed, user gone) is logged only,
 * never thrown, so it cannot turn the change it reports into an error.
 */
export function dmSender(client: Client, log: Logger, what: string) {
  return (discordId: string, content: DmContent): Promise<void> =>
    sendDm(client, discordId, content).catch((err: unknown) => log.warn({ err, discordId }, `could not DM ${what}`));
}
