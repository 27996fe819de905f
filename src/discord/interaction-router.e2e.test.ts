import {
  ActionRowBuilder,
  AttachmentBuilder,
  ButtonBuilder,
  ButtonStyle,
  MessageFlags,
  ModalBuilder,
  SlashCommandBuilder,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../errors';
import { failOnEmulatorGaps } from '../emulators/discord/vitest-helpers';
import { renderMessage } from '../emulators/discord/render-message';
import { captureLogs } from '../testing/log-capture';
import { startTestApp, type TestApp } from '../testing/test-app';
import type { Command } from './command';
import { customId, type ComponentHandler } from './component';
import { errorRefOf, isErrorReply } from './error-reply';

const { log: testLog, lines: logLines } = captureLogs();

const testCommands: Command[] = [
  {
    data: new SlashCommandBuilder().setName('slow').setDescription('defers then edits'),
    async execute(interaction) {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await new Promise((r) => setTimeout(r, 20));
      await interaction.editReply({ content: 'done slowly', files: [new AttachmentBuilder(Buffer.from('a,b\n1,2\n'), { name: 'report.csv' })] });
    },
  },
  {
    data: new SlashCommandBuilder().setName('counter').setDescription('button round trip'),
    async execute(interaction) {
      const button = new ButtonBuilder().setCustomId(customId('count', '0')).setLabel('Count').setStyle(ButtonStyle.Primary);
      const select = new StringSelectMenuBuilder()
        .setCustomId(customId('pick', 'fruit'))
        .addOptions({ label: 'Apple', value: 'apple' }, { label: 'Pear', value: 'pear' });
      const response = await interaction.reply({
        content: 'count: 0',
        components: [
          new ActionRowBuilder<ButtonBuilder>().addComponents(button),
          new ActionRowBuilder<StringSelectMenuBuilder>().addComponents(select),
        ],
        withResponse: true,
      });
      if (response.resource?.message?.content !== 'count: 0') throw new Error('withResponse did not return the message');
    },
  },
  {
    data: new SlashCommandBuilder().setName('feedback').setDescription('modal round trip'),
    async execute(interaction) {
      const modal = new ModalBuilder()
        .setCustomId(customId('feedback', 'general'))
        .setTitle('Feedback')
        .addComponents(
          new ActionRowBuilder<TextInputBuilder>().addComponents(
            new TextInputBuilder().setCustomId('text').setLabel('Your feedback').setStyle(TextInputStyle.Paragraph),
          ),
        );
      await interaction.showModal(modal);
    },
  },
  {
    data: new SlashCommandBuilder()
      .setName('pay')
      .setDescription('options, subcommands and a UserError')
      .addSubcommand((s) =>
        s
          .setName('send')
          .setDescription('send')
          .addUserOption((o) => o.setName('user').setDescription('to').setRequired(true))
          .addNumberOption((o) => o.setName('amount').setDescription('how much').setRequired(true))
          .addStringOption((o) => o.setName('currency').setDescription('which').setAutocomplete(true)),
      ),
    async execute(interaction) {
      const to = interaction.options.getUser('user', true);
      const amount = interaction.options.getNumber('amount', true);
      if (amount > 10) throw new UserError('INSUFFICIENT_FUNDS', `You cannot send ${amount}: balance is 10.`);
      await interaction.reply(`sent ${amount} ${interaction.options.getString('currency') ?? 'SOL'} to <@${to.id}> (${to.username})`);
    },
    async autocomplete(interaction) {
      const typed = interaction.options.getFocused().toUpperCase();
      await interaction.respond(['SOL', 'USDC', 'BONK'].filter((c) => c.startsWith(typed)).map((c) => ({ name: c, value: c })));
    },
  },
  {
    data: new SlashCommandBuilder().setName('boom').setDescription('unexpected error'),
    async execute() {
      throw new Error('database exploded');
    },
  },
  {
    data: new SlashCommandBuilder().setName('boom-late').setDescription('unexpected error after deferring'),
    async execute(interaction) {
      await interaction.deferReply();
      throw new Error('chain RPC down');
    },
  },
  {
    data: new SlashCommandBuilder().setName('staffonly').setDescription('admin only'),
    requires: 'guild-staff',
    guildOnly: true,
    cooldownSeconds: 60,
    async execute(interaction) {
      await interaction.reply({ content: 'staffonly ok', flags: MessageFlags.Ephemeral });
    },
  },
  {
    data: new SlashCommandBuilder().setName('grant').setDescription('role + DM + thread side effects'),
    async execute(interaction) {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const member = await interaction.guild!.members.fetch(interaction.user.id);
      const role = interaction.guild!.roles.cache.find((r) => r.name === 'Member')!;
      await member.roles.add(role);
      await interaction.user.send('welcome aboard');
      const channel = interaction.channel;
      if (!channel || !('threads' in channel)) throw new Error('no thread support');
      const thread = await channel.threads.create({ name: `ticket-${interaction.user.username}` });
      await thread.members.add(interaction.user.id);
      await thread.send('how can we help?');
      await thread.setArchived(true);
      await interaction.editReply('granted');
    },
  },
];

const components: ComponentHandler[] = [
  {
    action: 'count',
    async execute(interaction, arg) {
      if (!interaction.isButton()) return;
      const next = Number(arg) + 1;
      const button = new ButtonBuilder().setCustomId(customId('count', String(next))).setLabel('Count').setStyle(ButtonStyle.Primary);
      await interaction.update({ content: `count: ${next}`, components: [new ActionRowBuilder<ButtonBuilder>().addComponents(button)] });
    },
  },
  {
    action: 'pick',
    async execute(interaction, arg) {
      if (!interaction.isStringSelectMenu()) return;
      await interaction.reply({ content: `${arg}: ${interaction.values.join(',')}`, flags: MessageFlags.Ephemeral });
    },
  },
  {
    action: 'feedback',
    async execute(interaction, arg) {
      if (!interaction.isModalSubmit()) return;
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.followUp({ content: `thanks for the ${arg} feedback: ${interaction.fields.getTextInputValue('text')}`, flags: MessageFlags.Ephemeral });
    },
  },
];

let bot: TestApp;

beforeAll(async () => {
  bot = await startTestApp({
    emulator: { guildName: 'E2E Guild' },
    log: testLog,
    // The real app with its real commands, plus commands that exercise the router's edge cases (group "test").
    extendRegistry: (registry) => {
      for (const c of testCommands) registry.addCommand(c, 'test');
      for (const h of components) registry.registerComponent(h);
    },
  });
});

afterAll(async () => {
  await bot?.close();
});

failOnEmulatorGaps(() => bot?.emu);

describe('discord.js client against the emulator', () => {
  it('receives INTERACTION_CREATE and replies (/ping defers then edits)', async () => {
    const alice = bot.emu.user('alice');
    const r = bot.emu.runCommand(alice, '/ping');
    expect(await r.ack()).toBeGreaterThanOrEqual(0);
    const reply = await r.reply();
    expect(reply.content).toMatch(/^🏓 Pong! Gateway (\d+ ms|n\/a) · API round trip \d+ ms$/);
    expect(reply.ephemeral).toBe(false);
    expect(r.deferred).toBe(true);
  });

  it('deferred ephemeral reply + editReply with an attachment', async () => {
    const r = bot.emu.runCommand(bot.emu.user('alice'), '/slow');
    const reply = await r.reply();
    expect(reply.content).toBe('done slowly');
    expect(reply.ephemeral).toBe(true);
    expect(reply.files.map((f) => [f.name, f.data.toString()])).toEqual([['report.csv', 'a,b\n1,2\n']]);
  });

  it('button round trip updates the message; select menu answers', async () => {
    const alice = bot.emu.user('alice');
    const message = await bot.emu.runCommand(alice, '/counter').reply();
    expect(renderMessage(message)).toContain('[Count](count:0)');
    const click = bot.emu.click(alice, message, 'count:0');
    const updated = await click.reply();
    expect(updated).toBe(message);
    expect(message.content).toBe('count: 1');
    await bot.emu.click(alice, message, 'count:1').reply();
    expect(message.content).toBe('count: 2');

    const menu = await bot.emu.runCommand(alice, '/counter').reply();
    const picked = await bot.emu.select(alice, menu, 'pick:fruit', ['pear']).reply();
    expect(picked.content).toBe('fruit: pear');
    expect(picked.ephemeral).toBe(true);
  });

  it('modal round trip', async () => {
    const bob = bot.emu.user('bob');
    const shown = bot.emu.runCommand(bob, '/feedback');
    const modal = await shown.modal();
    expect(modal.custom_id).toBe('feedback:general');
    await expect(shown.reply()).rejects.toThrow(/modal/);
    const submitted = bot.emu.submitModal(bob, shown, 'feedback:general', { text: 'love it' });
    const reply = await submitted.reply();
    expect(reply.content).toBe('thanks for the general feedback: love it');
    expect(reply.ephemeral).toBe(true);
  });

  it('subcommands, USER options and autocomplete', async () => {
    const alice = bot.emu.user('alice');
    const bob = bot.emu.user('bob');
    const reply = await bot.emu.runCommand(bob, '/pay send', { user: alice, amount: 1.5, currency: 'USDC' }).reply();
    expect(reply.content).toBe(`sent 1.5 USDC to <@${alice.id}> (alice)`);
    const choices = await bot.emu.autocomplete(bob, '/pay send', { currency: 'u' }, 'currency').choices();
    expect(choices).toEqual([{ name: 'USDC', value: 'USDC' }]);
    expect(() => bot.emu.runCommand(bob, '/pay send', { amount: 1 })).toThrow(/"user" is required/);
    expect(() => bot.emu.runCommand(bob, '/pay')).toThrow(/needs a subcommand/);
  });

  it('a UserError becomes an ephemeral message', async () => {
    const bob = bot.emu.user('bob');
    const reply = await bot.emu.runCommand(bob, '/pay send', { user: 'alice', amount: 50 }).reply();
    expect(reply.ephemeral).toBe(true);
    expect(reply.content).toBe('❌ You cannot send 50: balance is 10.');
    expect(isErrorReply(reply.content)).toBe(true);
  });

  it('an unexpected error shows a reference id and is logged with it', async () => {
    const reply = await bot.emu.runCommand(bot.emu.user('carol'), '/boom').reply();
    expect(reply.ephemeral).toBe(true);
    const ref = errorRefOf(reply.content);
    expect(ref).toMatch(/^[0-9a-f]{8}$/);
    expect(reply.content).not.toContain('database exploded');
    const logged = logLines.find((l) => l.ref === ref);
    expect(logged?.msg).toBe('interaction failed');
    expect((logged?.err as { message?: string }).message).toBe('database exploded');
  });

  it('an unexpected error after deferring replaces the deferred reply', async () => {
    const r = bot.emu.runCommand(bot.emu.user('carol'), '/boom-late');
    const reply = await r.reply();
    expect(errorRefOf(reply.content)).toMatch(/^[0-9a-f]{8}$/);
    expect(r.original).toBe(reply);
  });

  it('requires, guildOnly and cooldown are enforced', async () => {
    const dave = bot.emu.user('dave');
    const denied = await bot.emu.runCommand(dave, '/staffonly').reply();
    expect(denied.content).toBe("❌ This needs Manage Server or this server's staff role.");
    const admin = bot.emu.user('erin', { admin: true });
    expect((await bot.emu.runCommand(admin, '/staffonly').reply()).content).toBe('staffonly ok');
    expect((await bot.emu.runCommand(admin, '/staffonly').reply()).content).toMatch(/^❌ Slow down/);
    const inDm = await bot.emu.runCommand(admin, '/staffonly', {}, { dm: true }).reply();
    expect(inDm.content).toBe('❌ /staffonly only works in a server.');
  });

  it('role changes, DMs, threads and archive go through REST', async () => {
    const member = bot.emu.role('Member');
    const frank = bot.emu.user('frank');
    await bot.emu.runCommand(frank, '/grant').reply();
    expect(bot.emu.hasRole(frank, member)).toBe(true);
    expect(bot.emu.roleChanges).toContainEqual({ guildId: bot.emu.guild.id, userId: frank.id, roleId: member.id, action: 'add' });
    expect(bot.emu.channelMessages(frank).map((m) => m.content)).toEqual(['welcome aboard']);
    const thread = [...bot.emu.channels.values()].find((c) => c.name === 'ticket-frank');
    expect(thread?.archived).toBe(true);
    expect(bot.emu.threadMembers).toContainEqual({ threadId: thread!.id, userId: frank.id });
    expect(bot.emu.channelMessages(thread!).map((m) => m.content)).toEqual(['how can we help?']);
    thread!.archived = false;
    const inThread = await bot.emu.runCommand(frank, '/pay send', { user: 'alice', amount: 1 }, { channel: thread! }).reply();
    expect(inThread.channel_id).toBe(thread!.id);
  });

  it('/help lists the loaded commands grouped by folder', async () => {
    const reply = await bot.emu.runCommand(bot.emu.user('alice'), '/help').reply();
    expect(reply.ephemeral).toBe(true);
    const text = renderMessage(reply);
    expect(text).toContain('General: `/help` — List what the bot can do');
    expect(text).toContain('`/ping`');
    expect(text).toContain('`/pay send` — send');
    expect(text).toContain('`/staffonly` — admin only *(server staff)*');
  });

  it('survives a dropped gateway connection (RESUME) and still answers', async () => {
    const resumesBefore = bot.emu.gatewayStats.resumes;
    const identifiesBefore = bot.emu.gatewayStats.identifies;
    await bot.emu.dropConnection();
    expect(bot.emu.gatewayStats.resumes).toBe(resumesBefore + 1);
    expect(bot.emu.gatewayStats.identifies).toBe(identifiesBefore);
    const reply = await bot.emu.runCommand(bot.emu.user('alice'), '/pay send', { user: 'bob', amount: 2 }).reply();
    expect(reply.content).toContain('sent 2 SOL');
  });

  it('replays interactions sent while the connection was down', async () => {
    const down = bot.emu.dropConnection();
    // The socket is already dead here: the event is buffered and replayed after RESUME.
    const r = bot.emu.runCommand(bot.emu.user('alice'), '/pay send', { user: 'bob', amount: 3 });
    await down;
    expect((await r.reply()).content).toContain('sent 3 SOL');
  });
});

describe('session invalidation', () => {
  it('re-IDENTIFYs after INVALID_SESSION and still answers', async () => {
    const identifies = bot.emu.gatewayStats.identifies;
    bot.emu.invalidateSessions();
    await bot.emu.waitForBot();
    expect(bot.emu.gatewayStats.identifies).toBe(identifies + 1);
    const reply = await bot.emu.runCommand(bot.emu.user('alice'), '/pay send', { user: 'bob', amount: 4 }).reply();
    expect(reply.content).toContain('sent 4 SOL');
  });
});

describe('emulator gap detection', () => {
  it('records unknown routes as failures', async () => {
    const res = await fetch(`${bot.emu.apiUrl}/v10/guilds/${bot.emu.guild.id}/emojis`, { headers: { authorization: `Bot ${bot.emu.token}` } });
    expect(res.status).toBe(404);
    expect(bot.emu.failures.splice(0)).toEqual([
      expect.objectContaining({ method: 'GET', path: `/api/v10/guilds/${bot.emu.guild.id}/emojis`, status: 404 }),
    ]);
  });

  it('records a double acknowledgement as a failure', async () => {
    const r = bot.emu.runCommand(bot.emu.user('alice'), '/help');
    await r.reply();
    const res = await fetch(`${bot.emu.apiUrl}/v10/interactions/${r.id}/${r.token}/callback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 4, data: { content: 'again' } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 40060, message: 'Interaction has already been acknowledged.' });
    expect(bot.emu.failures.splice(0)).toHaveLength(1);
  });
});
