import { DiscordAPIError, RESTJSONErrorCodes } from 'discord.js';
import type { DiscordDeps } from '../../app-module';
import { sendDm } from '../../discord/dm';
import type { DmPort } from './dm-outbox';

/** Refusals a retry cannot change: the member closed DMs, or the user does not exist. */
const FINAL = new Set<number>([RESTJSONErrorCodes.CannotSendMessagesToThisUser, RESTJSONErrorCodes.UnknownUser]);

/** The DM outbox's Discord side: a DM that never pings (sendDm); anything but a final refusal throws to be retried. */
export function dmPort({ client, log }: Pick<DiscordDeps, 'client' | 'log'>): DmPort {
  const l = log.child({ component: 'dm-outbox' });
  return {
    async send(discordId, content) {
      try {
        await sendDm(client, discordId, content);
        return 'sent';
      } catch (err) {
        if (err instanceof DiscordAPIError && FINAL.has(Number(err.code))) {
          l.warn({ err, discordId }, 'member DM refused for good');
          return 'refused';
        }
        throw err;
      }
    },
  };
}
