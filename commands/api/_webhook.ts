import { MessageFlags, type ChatInputCommandInteraction, type SlashCommandSubcommandBuilder, type SlashCommandSubcommandGroupBuilder } from 'discord.js';
import type { AppContext } from '../../src/app-context';
import { UserError } from '../../src/errors';
import { ENVIRONMENTS, type Environment } from '../../src/modules/quota/quota.tables';
import { EVENT_TYPES, MAX_ROTATION_OVERLAP_SECONDS } from '../../src/modules/webhooks/webhooks.service';
import { endpointList, pingText, secretShownOnce } from '../../src/modules/webhooks/webhooks.views';

// `/api webhook …`: a member's webhook endpoints on their own API clients (support code of commands/api/api.ts).

const member = (i: ChatInputCommandInteraction) => ({ discordId: i.user.id, username: i.user.username });
const ephemeral = MessageFlags.Ephemeral;

function endpointId(i: ChatInputCommandInteraction): bigint {
  const raw = i.options.getString('id', true).trim().replace(/^#/, '');
  if (!/^[1-9]\d{0,18}$/.test(raw)) throw new UserError('ENDPOINT_NOT_FOUND', `"${raw.slice(0, 30)}" is not an endpoint number; \`/api webhook list\` shows yours.`);
  return BigInt(raw);
}

async function add(i: ChatInputCommandInteraction, ctx: AppContext) {
  // Registration resolves the URL's host (SSRF check): that can outlast Discord's 3 s to answer.
  await i.deferReply({ flags: ephemeral });
  const { endpoint, secret } = await ctx.services.webhooks.addForMember(member(i), {
    client: i.options.getString('client', true),
    environment: (i.options.getString('environment') ?? 'prod') as Environment,
    url: i.options.getString('url', true).trim(),
    eventTypes: i.options.getString('events', true).split(/[\s,]+/).filter(Boolean),
  });
  await i.editReply({ content: secretShownOnce(endpoint, secret, 'created') });
}

async function test(i: ChatInputCommandInteraction, ctx: AppContext) {
  const id = endpointId(i);
  await i.deferReply({ flags: ephemeral });
  await i.editReply({ content: pingText(id, await ctx.services.webhooks.testForMember(member(i), id)) });
}

export async function webhookSubcommand(i: ChatInputCommandInteraction, ctx: AppContext): Promise<void> {
  const sub = i.options.getSubcommand();
  if (sub === 'add') return add(i, ctx);
  if (sub === 'test') return test(i, ctx);
  if (sub === 'list') {
    await i.reply({ content: endpointList(await ctx.services.webhooks.listForMember(member(i))), flags: ephemeral });
    return;
  }
  if (sub === 'remove') {
    const e = await ctx.services.webhooks.removeForMember(member(i), endpointId(i));
    await i.reply({ content: `🛑 Webhook endpoint #${e.id} (\`${e.url}\`) removed: nothing more is sent to it.`, flags: ephemeral });
    return;
  }
  if (sub === 'rotate') {
    const hours = i.options.getInteger('overlap_hours');
    const { endpoint, secret } = await ctx.services.webhooks.rotateForMember(member(i), endpointId(i), hours === null ? undefined : hours * 3600);
    await i.reply({ content: secretShownOnce(endpoint, secret, 'rotated'), flags: ephemeral });
    return;
  }
  throw new UserError('UNKNOWN_SUBCOMMAND', `Unknown subcommand ${sub}.`);
}

const idOption = (s: SlashCommandSubcommandBuilder) =>
  s.addStringOption((o) => o.setName('id').setDescription('Endpoint number (from /api webhook list)').setRequired(true).setMaxLength(20));

export function webhookGroup(g: SlashCommandSubcommandGroupBuilder): SlashCommandSubcommandGroupBuilder {
  return g
    .setName('webhook')
    .setDescription('Signed webhooks to your API clients')
    .addSubcommand((s) =>
      s
        .setName('add')
        .setDescription('Register a webhook endpoint (its signing secret is shown once)')
        .addStringOption((o) => o.setName('client').setDescription('API client name').setRequired(true).setMaxLength(64))
        .addStringOption((o) => o.setName('url').setDescription('Receiver URL (https)').setRequired(true).setMaxLength(2048))
        .addStringOption((o) => o.setName('events').setDescription(`Event types, space-separated: ${EVENT_TYPES.join(' ')}`.slice(0, 100)).setRequired(true).setMaxLength(500))
        .addStringOption((o) =>
          o
            .setName('environment')
            .setDescription('Client environment (default prod)')
            .addChoices(...ENVIRONMENTS.map((e) => ({ name: e, value: e }))),
        ),
    )
    .addSubcommand((s) => s.setName('list').setDescription('Your webhook endpoints'))
    .addSubcommand((s) => idOption(s.setName('test').setDescription('Send a signed ping event now')))
    .addSubcommand((s) => idOption(s.setName('remove').setDescription('Stop sending to an endpoint')))
    .addSubcommand((s) =>
      idOption(s.setName('rotate').setDescription('New signing secret; the old one keeps signing during the overlap')).addIntegerOption((o) =>
        o
          .setName('overlap_hours')
          .setDescription('Hours the old secret still signs (default 24, 0 = stop now)')
          .setMinValue(0)
          .setMaxValue(MAX_ROTATION_OVERLAP_SECONDS / 3600),
      ),
    );
}
