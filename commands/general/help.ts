import { ApplicationCommandOptionType, EmbedBuilder, MessageFlags, SlashCommandBuilder, type APIApplicationCommandOption } from 'discord.js';
import type { Command, LoadedCommand } from '../../src/discord/command';
import { registryOf } from '../../src/discord/interaction-router';

/** "/wallet link — …" for every leaf, so subcommands are discoverable too. */
function usageLines(command: LoadedCommand): string[] {
  const lines: string[] = [];
  const visit = (prefix: string, description: string, options: readonly APIApplicationCommandOption[] | undefined) => {
    const subs = (options ?? []).filter((o) => o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup);
    if (subs.length === 0) {
      lines.push(`\`${prefix}\` — ${description}`);
      return;
    }
    for (const sub of subs) visit(`${prefix} ${sub.name}`, sub.description, 'options' in sub ? sub.options : undefined);
  };
  visit(`/${command.name}`, command.json.description, command.json.options);
  const role = command.requires ? ` *(${command.requires === 'operator' ? 'operators' : 'server staff'})*` : '';
  return lines.map((l) => l + role);
}

// Discord rejects an embed field value over 1024 characters.
const FIELD_LIMIT = 1024;

function chunkLines(lines: string[], limit: number): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const line of lines) {
    const next = current ? `${current}\n${line}` : line;
    if (next.length > limit && current) {
      chunks.push(current);
      current = line.slice(0, limit);
    } else {
      current = next.slice(0, limit);
    }
  }
  if (current) chunks.push(current);
  return chunks;
}

const titleCase = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export default {
  data: new SlashCommandBuilder().setName('help').setDescription('List what the bot can do'),
  async execute(interaction) {
    const registry = registryOf(interaction.client);
    const embed = new EmbedBuilder().setTitle('Solbound commands').setColor(0x9945ff);
    for (const { group, commands } of registry?.groups() ?? []) {
      chunkLines(commands.flatMap(usageLines), FIELD_LIMIT).forEach((value, i) => {
        embed.addFields({ name: i === 0 ? titleCase(group) : `${titleCase(group)} (cont.)`, value });
      });
    }
    embed.setFooter({ text: 'Tip: type / in the message box to see options for each command.' });
    await interaction.reply({ embeds: [embed], flags: MessageFlags.Ephemeral });
  },
} satisfies Command;
