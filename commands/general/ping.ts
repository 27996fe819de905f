import { SlashCommandBuilder } from 'discord.js';
import type { Command } from '../../src/discord/command';

export default {
  data: new SlashCommandBuilder().setName('ping').setDescription('Check that the bot is alive and how fast it answers'),
  async execute(interaction) {
    const started = performance.now();
    await interaction.deferReply();
    const roundTrip = Math.round(performance.now() - started);
    // ws.ping is -1 until the first heartbeat has been acknowledged.
    const ws = interaction.client.ws.ping;
    await interaction.editReply(`🏓 Pong! Gateway ${ws >= 0 ? `${ws} ms` : 'n/a'} · API round trip ${roundTrip} ms`);
  },
} satisfies Command;
