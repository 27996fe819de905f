import { Routes, type Client } from 'discord.js';
import type { BillingDiscordEffects } from './billing.service';

/**
 * Billing's Discord effects, bound to the client: a member's role added or removed through REST (PUT/DELETE
 * /guilds/:g/members/:u/roles/:r — both idempotent on Discord's side). discord.js queues and retries 429s itself;
 * any other failure (missing permission, role above the bot's, member gone) is thrown for the outbox to record.
 */
export function billingDiscordEffects(client: Client): BillingDiscordEffects {
  return {
    async addRole(guildId, userId, roleId, reason) {
      await client.rest.put(Routes.guildMemberRole(guildId, userId, roleId), { reason });
    },
    async removeRole(guildId, userId, roleId, reason) {
      await client.rest.delete(Routes.guildMemberRole(guildId, userId, roleId), { reason });
    },
  };
}
