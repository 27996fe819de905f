import { ApplicationCommandType, type APIApplicationCommand } from 'discord-api-types/v10';
import { snowflake } from '../discord-state';
import { checkApp, mustGuild, type RestDeps } from './lookups';
import { DiscordApiError, sendJson, type RouteDef } from './router';

type CommandBody = Record<string, unknown> & { name: string };

/** The application and its global and guild slash commands. */
export function applicationRoutes({ world }: RestDeps): RouteDef[] {
  const upsert = (existing: APIApplicationCommand[], incoming: CommandBody[], guildId?: string): APIApplicationCommand[] =>
    incoming.map((c) => ({
      type: ApplicationCommandType.ChatInput,
      description: '',
      default_member_permissions: null,
      nsfw: false,
      contexts: null,
      integration_types: [0],
      ...c,
      id: existing.find((e) => e.name === c.name)?.id ?? snowflake(),
      application_id: world.appId,
      version: snowflake(),
      ...(guildId ? { guild_id: guildId } : {}),
    }) as unknown as APIApplicationCommand);

  return [
    {
      method: 'GET',
      path: 'applications/@me',
      handler: ({ res }) =>
        sendJson(res, 200, { id: world.appId, name: world.bot.username, description: '', bot_public: true, bot_require_code_grant: false, flags: 0, icon: null, verify_key: '0'.repeat(64), team: null, summary: '' }),
    },
    {
      method: 'PUT',
      path: 'applications/:appId/commands',
      payload: 'commands',
      handler: ({ res, body, params }) => {
        checkApp(world, params.appId);
        world.globalCommands = upsert(world.globalCommands, asArray(body.json));
        sendJson(res, 200, world.globalCommands);
      },
    },
    {
      method: 'GET',
      path: 'applications/:appId/commands',
      handler: ({ res, params }) => {
        checkApp(world, params.appId);
        sendJson(res, 200, world.globalCommands);
      },
    },
    {
      method: 'POST',
      path: 'applications/:appId/commands',
      payload: 'command',
      handler: ({ res, body, params }) => {
        checkApp(world, params.appId);
        const [created] = upsert(world.globalCommands, [body.json as CommandBody]);
        world.globalCommands = [...world.globalCommands.filter((c) => c.name !== created?.name), created!];
        sendJson(res, 201, created);
      },
    },
    {
      method: 'PUT',
      path: 'applications/:appId/guilds/:guildId/commands',
      payload: 'commands',
      handler: ({ res, body, params }) => {
        checkApp(world, params.appId);
        const guildId = mustGuild(world, params.guildId).id;
        const next = upsert(world.guildCommands.get(guildId) ?? [], asArray(body.json), guildId);
        world.guildCommands.set(guildId, next);
        sendJson(res, 200, next);
      },
    },
    {
      method: 'GET',
      path: 'applications/:appId/guilds/:guildId/commands',
      handler: ({ res, params }) => {
        checkApp(world, params.appId);
        sendJson(res, 200, world.guildCommands.get(mustGuild(world, params.guildId).id) ?? []);
      },
    },
  ];
}

function asArray(json: unknown): CommandBody[] {
  if (!Array.isArray(json)) throw new DiscordApiError(400, 50035, 'Invalid Form Body: expected an array', true);
  return json as CommandBody[];
}
