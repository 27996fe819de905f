import { DiscordAPIError, Events, PermissionFlagsBits, RESTJSONErrorCodes, type Guild } from 'discord.js';
import type { DiscordDeps } from '../../app-module';
import { sendDm } from '../../discord/dm';
import type { RoleOp } from './billing.tables';
import { fetchChannelOnAnyShard } from '../../discord/channels';

/** Why Discord refused a role change for good; each has its own fix in the guild's log channel. */
export type RoleProblem = 'role_above_bot' | 'missing_manage_roles' | 'missing_permissions' | 'unknown_role' | 'unknown_member' | 'unknown_guild';

export type RoleApplyResult = { ok: true } | { ok: false; permanent: true; problem: RoleProblem; message: string } | { ok: false; permanent: false; message: string };

export interface GuildMemberRoles {
  username: string;
  bot: boolean;
  roleIds: ReadonlySet<string>;
}

export interface MemberJoin {
  guildId: string;
  discordId: string;
}

/**
 * The Discord side of the membership jobs (role outbox, reconcile, reminders, renewals), built from the client by
 * billing.module.ts. Every call reports what happened instead of throwing, so a job can tell "done", "retry later"
 * and "never" apart. Rate limits are discord.js's: a 429 waits `retry_after` and retries inside the call.
 */
export interface BillingRolesDiscord {
  /** Adds or removes a member's role. Adding a role the member has (or removing one they lack) is a success. */
  applyRole(guildId: string, discordId: string, roleId: string, op: RoleOp, reason: string): Promise<RoleApplyResult>;
  /** Every member of the guild with their role ids (paged REST reads); undefined when the bot is not in it. */
  guildMembers(guildId: string): Promise<Map<string, GuildMemberRoles> | undefined>;
  /** A DM that never pings; false when it could not be delivered (closed DMs, unknown user). */
  dm(discordId: string, content: string): Promise<boolean>;
  /** Posts to a guild channel (the log channel) without pings; false when the channel cannot take it. */
  post(channelId: string, content: string): Promise<boolean>;
  /**
   * Members who joined a guild since the last call (GUILD_MEMBER_ADD seen by this process's shards). The role outbox
   * job turns them into grants for their live subscriptions; the role-sync reconcile covers joins another replica saw.
   */
  takeJoins(): MemberJoin[];
}

/** At most this many joins wait between two drains; older ones are left to the reconcile. */
const MAX_PENDING_JOINS = 10_000;

export function billingRolesDiscord({ client, log }: Pick<DiscordDeps, 'client' | 'log'>): BillingRolesDiscord {
  const l = log.child({ component: 'billing-roles' });
  let joins: MemberJoin[] = [];
  client.on(Events.GuildMemberAdd, (member) => {
    if (member.user.bot) return;
    if (joins.length >= MAX_PENDING_JOINS) joins.shift();
    joins.push({ guildId: member.guild.id, discordId: member.id });
  });

  return {
    async applyRole(guildId, discordId, roleId, op, reason) {
      const guild = client.guilds.cache.get(guildId);
      if (!guild) return { ok: false, permanent: true, problem: 'unknown_guild', message: `the bot is not in guild ${guildId}` };
      try {
        if (op === 'add') await guild.members.addRole({ user: discordId, role: roleId, reason });
        else await guild.members.removeRole({ user: discordId, role: roleId, reason });
        return { ok: true };
      } catch (err) {
        return classify(err, guild, roleId, op);
      }
    },

    async guildMembers(guildId) {
      const guild = client.guilds.cache.get(guildId);
      if (!guild) return undefined;
      const out = new Map<string, GuildMemberRoles>();
      let after = '0';
      for (;;) {
        const page = await guild.members.list({ limit: 1000, after, cache: false });
        for (const [id, m] of page) out.set(id, { username: m.user.username, bot: m.user.bot, roleIds: new Set(m.roles.cache.keys()) });
        if (page.size < 1000) return out;
        after = page.lastKey()!;
      }
    },

    async dm(discordId, content) {
      try {
        await sendDm(client, discordId, content);
        return true;
      } catch (err) {
        l.warn({ err, discordId }, 'could not DM a membership notice');
        return false;
      }
    },

    async post(channelId, content) {
      try {
        const channel = await fetchChannelOnAnyShard(client, channelId);
        if (!channel?.isSendable()) return false;
        await channel.send({ content, allowedMentions: { parse: [] } });
        return true;
      } catch (err) {
        l.warn({ err, channelId }, 'could not post a membership alert');
        return false;
      }
    },

    takeJoins() {
      const taken = joins;
      joins = [];
      return taken;
    },
  };
}

function classify(err: unknown, guild: Guild, roleId: string, op: RoleOp): RoleApplyResult {
  if (!(err instanceof DiscordAPIError)) return { ok: false, permanent: false, message: err instanceof Error ? err.message : String(err) };
  const message = `${err.status} ${err.code}: ${err.message}`;
  switch (err.code) {
    case RESTJSONErrorCodes.UnknownMember:
      // Removing a role from someone who left is done: they do not have it. Granting it waits for their return.
      return op === 'remove' ? { ok: true } : { ok: false, permanent: true, problem: 'unknown_member', message };
    case RESTJSONErrorCodes.UnknownRole:
      return { ok: false, permanent: true, problem: 'unknown_role', message };
    case RESTJSONErrorCodes.UnknownGuild:
      return { ok: false, permanent: true, problem: 'unknown_guild', message };
    case RESTJSONErrorCodes.MissingPermissions:
      return { ok: false, permanent: true, problem: permissionProblem(guild, roleId), message };
    default:
      // 5xx and the unexpected: try again later, up to the outbox's attempt limit (429s never get here: discord.js
      // waits them out and retries).
      return { ok: false, permanent: false, message };
  }
}

/** Which of the two usual causes of a 403 on a member role it is, from the bot's cached roles. */
function permissionProblem(guild: Guild, roleId: string): RoleProblem {
  const me = guild.members.me;
  if (!me) return 'missing_permissions';
  if (!me.permissions.has(PermissionFlagsBits.ManageRoles)) return 'missing_manage_roles';
  const role = guild.roles.cache.get(roleId);
  if (role && role.position >= me.roles.highest.position) return 'role_above_bot';
  return 'missing_permissions';
}
