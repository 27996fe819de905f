import { MessageFlags, SlashCommandBuilder, time, TimestampStyles, type ChatInputCommandInteraction, type SlashCommandStringOption } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import type { Command } from '../../src/discord/command';
import { UserError } from '../../src/errors';
import { ENVIRONMENTS, type Environment } from '../../src/modules/quota/quota.tables';
import { webhookGroup, webhookSubcommand } from './_webhook';

const code = (s: string) => `\`${s}\``;
const member = (i: ChatInputCommandInteraction) => ({ discordId: i.user.id, username: i.user.username });
const list = (s: string | null) => (s ? s.split(/[\s,]+/).filter(Boolean) : []);
const environment = (i: ChatInputCommandInteraction, fallback?: Environment) => (i.options.getString('environment') ?? fallback) as Environment;

const shownOnce = (token: string, env: string) =>
  [`Token for **${env}** (shown once — store it now; only its hash is kept):`, '```', token, '```', `Use it as ${code('Authorization: Bearer <token>')} on ${code('/api/v1/…')}.`].join('\n');

async function create(i: ChatInputCommandInteraction, ctx: AppContext) {
  const created = await ctx.services.quota.createClient(member(i), {
    name: i.options.getString('name', true),
    environment: environment(i, 'prod'),
    allowedOrigins: list(i.options.getString('origins')),
    contacts: list(i.options.getString('contacts')),
  });
  await i.reply({ content: `✅ API client **${created.client.name}** created.\n${shownOnce(created.token, created.environment)}`, flags: MessageFlags.Ephemeral });
}

async function listClients(i: ChatInputCommandInteraction, ctx: AppContext) {
  const clients = await ctx.services.quota.listClients(member(i));
  if (clients.length === 0) {
    await i.reply({ content: `You have no API clients. ${code('/api client create')} makes one.`, flags: MessageFlags.Ephemeral });
    return;
  }
  const lines = clients.map((c) => {
    const envs = c.environments.map((e) => `${e.environment} ${e.token_hint}${e.active ? '' : ' (revoked)'}`).join(', ') || 'no tokens';
    const origins = c.allowed_origins.length ? ` · origins ${c.allowed_origins.join(' ')}` : '';
    return `**${c.name}**${c.active ? '' : ' (deactivated)'} — ${envs}${origins} · since ${time(c.created_at, TimestampStyles.ShortDate)}`;
  });
  await i.reply({ content: lines.join('\n'), flags: MessageFlags.Ephemeral });
}

async function rotate(i: ChatInputCommandInteraction, ctx: AppContext) {
  const r = await ctx.services.quota.rotate(member(i), i.options.getString('name', true), environment(i));
  await i.reply({ content: `🔁 New ${r.environment.environment} token for **${r.client.name}**; the old one no longer works.\n${shownOnce(r.token, r.environment.environment)}`, flags: MessageFlags.Ephemeral });
}

async function revoke(i: ChatInputCommandInteraction, ctx: AppContext) {
  const r = await ctx.services.quota.revoke(member(i), i.options.getString('name', true), environment(i));
  await i.reply({ content: `🛑 The ${r.environment.environment} token of **${r.client.name}** is revoked.`, flags: MessageFlags.Ephemeral });
}

const envOption = (required: boolean) => (o: SlashCommandStringOption) =>
  o
    .setName('environment')
    .setDescription(required ? 'Which environment' : 'Environment of the first token (default prod)')
    .setRequired(required)
    .addChoices(...ENVIRONMENTS.map((e) => ({ name: e, value: e })));

export default {
  data: new SlashCommandBuilder()
    .setName('api')
    .setDescription('Your partner API clients, their tokens and webhooks')
    .addSubcommandGroup((g) =>
      g
        .setName('client')
        .setDescription('API clients')
        .addSubcommand((s) =>
          s
            .setName('create')
            .setDescription('Create an API client and its first token')
            .addStringOption((o) => o.setName('name').setDescription('A name for the app').setRequired(true).setMaxLength(64))
            .addStringOption(envOption(false))
            .addStringOption((o) => o.setName('origins').setDescription('Allowed browser origins, space-separated (https://app.example)').setMaxLength(1000))
            .addStringOption((o) => o.setName('contacts').setDescription('Contact e-mails, space-separated').setMaxLength(500)),
        )
        .addSubcommand((s) => s.setName('list').setDescription('Your API clients'))
        .addSubcommand((s) =>
          s
            .setName('rotate')
            .setDescription('A new token for an environment (the old one stops working)')
            .addStringOption((o) => o.setName('name').setDescription('Client name').setRequired(true).setMaxLength(64))
            .addStringOption(envOption(true)),
        )
        .addSubcommand((s) =>
          s
            .setName('revoke')
            .setDescription("Revoke an environment's token")
            .addStringOption((o) => o.setName('name').setDescription('Client name').setRequired(true).setMaxLength(64))
            .addStringOption(envOption(true)),
        ),
    )
    .addSubcommandGroup(webhookGroup),
  async execute(i, ctx) {
    if (i.options.getSubcommandGroup() === 'webhook') return webhookSubcommand(i, ctx);
    const sub = i.options.getSubcommand();
    if (sub === 'create') return create(i, ctx);
    if (sub === 'list') return listClients(i, ctx);
    if (sub === 'rotate') return rotate(i, ctx);
    if (sub === 'revoke') return revoke(i, ctx);
    throw new UserError('UNKNOWN_SUBCOMMAND', `Unknown subcommand ${sub}.`);
  },
} satisfies Command;
