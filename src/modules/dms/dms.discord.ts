import type { DiscordDeps } from '../../app-module';
import { isFinalDmRefusal, sendDm } from '../../discord/dm';
import type { DmPort } from './dm-outbox';

/** The DM outbox's Discord side: a DM that never pings (sendDm); anything but a final refusal throws to be retried. */
export function dmPort({ client, log }: Pick<DiscordDeps, 'client' | 'log'>): DmPort {
  const l = log.child({ component: 'dm-outbox' });
  return {
    async send(discordId, content) {
      try {
        await sendDm(client, discordId, content);
        return 'sent';
      } catch (err) {
        if (isFinalDmRefusal(err)) {
          l.warn({ err, discordId }, 'member DM refused for good');
          return 'refused';
        }
        throw err;
      }
    },
  };
}
