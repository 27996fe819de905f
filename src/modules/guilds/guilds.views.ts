import { EmbedBuilder } from 'discord.js';
import type { AuditEvent, GuildSettings } from './guilds.service';

const channel = (id: string | null) => (id ? `<#${id}>` : '—');
const role = (id: string | null) => (id ? `<@&${id}>` : '—');

/** `/setup show`: effective values, with the ones this guild set itself marked. */
export function settingsEmbed(s: GuildSettings): EmbedBuilder {
  const mark = (field: string) => (s.overridden.includes(field) ? '' : ' *(default)*');
  const t = s.tickets;
  return new EmbedBuilder()
    .setTitle('Server settings')
    .setColor(0x5865f2)
    .addFields(
      { name: 'Support channel', value: `${channel(s.supportChannelId)}${mark('supportChannelId')}`, inline: true },
      { name: 'Staff role', value: `${role(s.staffRoleId)}${mark('staffRoleId')}`, inline: true },
      { name: 'Log channel', value: `${channel(s.logChannelId)}${mark('logChannelId')}`, inline: true },
      { name: 'Ticket categories', value: `${t.categories.join(', ')}${mark('ticketCategories')}` },
      { name: 'Open tickets per member', value: `${t.maxOpenPerUser}${mark('maxOpenTickets')}`, inline: true },
      { name: 'Open cooldown', value: `${t.openCooldownSeconds} s${mark('openCooldownSeconds')}`, inline: true },
      { name: 'Auto-close', value: `${t.autoCloseHours} h, warning ${t.warningHours} h before${mark('autoCloseHours')}`, inline: true },
      { name: 'Badge role', value: `${role(s.badgeRoleId)}${mark('badgeRoleId')}`, inline: true },
    );
}

function clip(v: unknown): string {
  const text = JSON.stringify(v ?? null);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

/** One line per event, newest first; values are clipped so ten lines stay under Discord's 4096-character embed. */
export function auditLine(e: AuditEvent): string {
  const who = e.actor_discord_id ? `<@${e.actor_discord_id}>` : `*${e.via}*`;
  const at = `<t:${Math.floor(e.at.getTime() / 1000)}:R>`;
  const change = e.before !== null || e.after !== null ? ` ${clip(e.before)} → ${clip(e.after)}` : '';
  const reason = e.reason ? ` — “${e.reason.slice(0, 100)}”` : '';
  return `\`#${e.id}\` ${at} **${e.action}** \`${e.target}\` by ${who}${change}${reason}`;
}
