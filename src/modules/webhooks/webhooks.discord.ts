import type { Client } from 'discord.js';
import { dmSender } from '../../discord/dm';
import type { Logger } from '../../logger';
import type { WebhookNotifier } from './webhooks.service';
import { endpointDisabledText } from './webhooks.views';

/**
 * The port WebhooksService takes at construction: a DM to the owner of an endpoint the bot disabled. Sent through
 * sendDm (never pings: the URL is partner-written text); a closed DM is logged, never thrown into the delivery run.
 */
export function webhookDiscordNotifier(client: Client, log: Logger): WebhookNotifier {
  const send = dmSender(client, log.child({ component: 'webhook-notifier' }), 'the webhook endpoint owner');
  return (notice) => send(notice.discordId, endpointDisabledText(notice));
}
