import { DiscordAPIError, RESTJSONErrorCodes, type Client, type MessageCreateOptions } from 'discord.js';
import type { Counter } from 'prom-client';
import type { Logger } from '../logger';

/** Where a client's undeliverable DMs are recorded: a log line and a counter by reason. */
export interface DmObserver {
  log: Logger;
  undelivered: Counter<'reason'>;
}

const observers = new WeakMap<Client, DmObserver>();

/** Records every DM this client cannot deliver (set once by the app, which owns the metrics). */
export function observeDms(client: Client, observer: DmObserver): void {
  observers.set(client, observer);
}

/** Refusals a retried DM cannot change: the member closed DMs, or the user does not exist. */
const FINAL_REFUSALS = new Set<number>([RESTJSONErrorCodes.CannotSendMessagesToThisUser, RESTJSONErrorCodes.UnknownUser]);

/** Whether sendDm's error is final (the outboxes mark the DM refused rather than retry it). */
export function isFinalDmRefusal(err: unknown): boolean {
  return err instanceof DiscordAPIError && FINAL_REFUSALS.has(Number(err.code));
}

/** What a DM may carry; mentions are not the caller's to choose (see sendDm). */
export type DmContent = string | Omit<MessageCreateOptions, 'allowedMentions'>;

/**
 * The one way the bot DMs anyone. A DM never pings: text we put in it (a ticket subject, a close reason, an address)
 * may contain `@everyone` or `<@id>` written by someone else, so every DM goes out with `allowedMentions.parse = []`.
 * Throws like discord.js does (DMs closed, user unknown); a DM refused because the member closed DMs is also
 * recorded (see observeDms).
 */
export async function sendDm(client: Client, discordId: string, content: DmContent): Promise<void> {
  const options = typeof content === 'string' ? { content } : content;
  try {
    await client.users.send(discordId, { ...options, allowedMentions: { parse: [] } });
  } catch (err) {
    // A closed DM is final: recorded once and thrown, never retried (Discord would refuse every retry the same way).
    if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.CannotSendMessagesToThisUser) {
      const observer = observers.get(client);
      observer?.undelivered.inc({ reason: 'dms_closed' });
      observer?.log.warn({ discordId, code: err.code }, 'DM not delivered: the member has DMs closed');
    }
    throw err;
  }
}

/**
 * A DM sender for notifications about changes already committed: a failure (DMs closed, user gone) is logged only,
 * never thrown, so it cannot turn the change it reports into an error.
 */
export function dmSender(client: Client, log: Logger, what: string) {
  return (discordId: string, content: DmContent): Promise<void> =>
    sendDm(client, discordId, content).catch((err: unknown) => log.warn({ err, discordId }, `could not DM ${what}`));
}
