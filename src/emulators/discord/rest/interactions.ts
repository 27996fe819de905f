import {
  GatewayDispatchEvents,
  InteractionResponseType,
  InteractionType,
  MessageFlags,
  MessageType,
  type APIApplicationCommandOptionChoice,
  type APIModalInteractionResponseCallbackData,
} from 'discord-api-types/v10';
import { editMessage, toApiMessage, type EmuMessage, type MessageInput } from '../discord-state';
import { INTERACTION_DEADLINES, type DiscordWorld } from '../discord-world';
import type { DiscordGateway } from '../gateway';
import { notify, type InteractionRecord } from '../interaction-result';
import { guildIdOf } from './channels';
import { mustInteraction, type RestDeps } from './lookups';
import { DiscordApiError, noContent, sendJson, type RouteContext, type RouteDef } from './router';

/** Interaction callbacks and the interaction webhook (original response and follow-ups). */
export function interactionRoutes({ world, gateway }: RestDeps): RouteDef[] {
  const echo = echoTo(world, gateway);
  return [
    { method: 'POST', path: 'interactions/:id/:token/callback', auth: false, payload: 'interaction-callback', handler: (ctx) => onCallback(world, echo, ctx) },
    {
      method: 'GET',
      path: 'webhooks/:appId/:token/messages/:messageId',
      auth: false,
      handler: ({ res, params }) => {
        // Reading @original of an interaction nobody acknowledged answers 10008 like Discord, and is no misuse: a bot
        // recovering a crashed process's work asks this to learn whether anything was acknowledged.
        const { message } = webhookMessage(world, params, { probe: true });
        sendJson(res, 200, toApiMessage(message));
      },
    },
    {
      method: 'PATCH',
      path: 'webhooks/:appId/:token/messages/:messageId',
      auth: false,
      payload: 'interaction-message',
      handler: ({ res, params, body }) => {
        const { record, message } = webhookMessage(world, params);
        editMessage(message, body.json as MessageInput, body.files);
        if (params.messageId === '@original' && !record.visible) record.visible = message;
        notify(record);
        sendJson(res, 200, toApiMessage(message));
        echo(GatewayDispatchEvents.MessageUpdate, message);
      },
    },
    {
      method: 'DELETE',
      path: 'webhooks/:appId/:token/messages/:messageId',
      auth: false,
      handler: ({ res, params }) => {
        const { record, message } = webhookMessage(world, params);
        message.deleted = true;
        notify(record);
        noContent(res);
        echo(GatewayDispatchEvents.MessageDelete, message);
      },
    },
    { method: 'POST', path: 'webhooks/:appId/:token', auth: false, payload: 'interaction-message', handler: (ctx) => onFollowUp(world, echo, ctx) },
  ];
}

type Echo = (t: GatewayDispatchEvents.MessageCreate | GatewayDispatchEvents.MessageUpdate | GatewayDispatchEvents.MessageDelete, message: EmuMessage) => void;

/**
 * Discord tells the bot about its interaction replies and follow-ups like about any message in the channel
 * (MESSAGE_CREATE/UPDATE/DELETE); ephemeral ones exist only for their user and are never dispatched.
 */
function echoTo(world: DiscordWorld, gateway: DiscordGateway): Echo {
  return (t, message) => {
    if (message.ephemeral) return;
    if (t === GatewayDispatchEvents.MessageCreate) gateway.dispatchMessageCreate(message);
    else if (t === GatewayDispatchEvents.MessageUpdate) gateway.dispatch(t, { ...toApiMessage(message), ...guildIdOf(world, message.channel_id) });
    else gateway.dispatch(t, { id: message.id, channel_id: message.channel_id, ...guildIdOf(world, message.channel_id) });
  };
}

function onCallback(world: DiscordWorld, echo: Echo, { res, params, body, query, receivedAt }: RouteContext): void {
  const record = world.interactions.get(params.token ?? '');
  if (!record || record.id !== params.id) throw new DiscordApiError(404, 10062, 'Unknown interaction', true);
  if (record.responseType !== undefined) throw new DiscordApiError(400, 40060, 'Interaction has already been acknowledged.', true);
  const lateMs = receivedAt - record.dispatchedAt;
  if (lateMs > INTERACTION_DEADLINES.initialResponseMs) {
    // Discord forgets an interaction nobody answered in 3 s. A failure too: the bot must defer work that may be slow.
    world.interactions.delete(record.token);
    throw new DiscordApiError(404, 10062, 'Unknown interaction', true, undefined, `initial response ${Math.round(lateMs)} ms after dispatch (deadline 3000 ms)`);
  }
  const callback = (body.json ?? {}) as {
    type: InteractionResponseType;
    data?: MessageInput & { choices?: APIApplicationCommandOptionChoice[] };
  };
  const data = callback.data ?? {};
  const isComponent = record.payload.type === InteractionType.MessageComponent || (record.payload.type === InteractionType.ModalSubmit && record.sourceMessage);
  const commandType = record.payload.type === InteractionType.ApplicationCommand ? MessageType.ChatInputCommand : MessageType.Default;
  switch (callback.type) {
    case InteractionResponseType.Pong:
      break;
    case InteractionResponseType.ChannelMessageWithSource:
      record.original = world.storeBotMessage(record.channelId, data, body.files, { interactionToken: record.token, visibleTo: record.user.id, type: commandType });
      record.visible = record.original;
      break;
    case InteractionResponseType.DeferredChannelMessageWithSource:
      record.original = world.storeBotMessage(
        record.channelId,
        { content: '', flags: ((data.flags ?? 0) & MessageFlags.Ephemeral) | MessageFlags.Loading },
        [],
        { interactionToken: record.token, visibleTo: record.user.id, type: commandType },
      );
      break;
    case InteractionResponseType.DeferredMessageUpdate:
    case InteractionResponseType.UpdateMessage: {
      if (!isComponent || !record.sourceMessage) throw new DiscordApiError(400, 50035, 'Invalid Form Body: message updates need a component interaction', true);
      record.original = record.sourceMessage;
      if (callback.type === InteractionResponseType.UpdateMessage) {
        editMessage(record.sourceMessage, data, body.files);
        record.visible = record.sourceMessage;
      }
      break;
    }
    case InteractionResponseType.ApplicationCommandAutocompleteResult:
      if (record.payload.type !== InteractionType.ApplicationCommandAutocomplete) throw new DiscordApiError(400, 50035, 'Invalid Form Body: not an autocomplete interaction', true);
      record.choices = data.choices ?? [];
      break;
    case InteractionResponseType.Modal:
      if (record.payload.type === InteractionType.ModalSubmit) throw new DiscordApiError(400, 50035, 'Invalid Form Body: cannot answer a modal with a modal', true);
      record.modal = data as unknown as APIModalInteractionResponseCallbackData;
      break;
    default:
      throw new DiscordApiError(400, 50035, `Invalid Form Body: unsupported callback type ${String(callback.type)}`, true);
  }
  record.responseType = callback.type;
  record.ackedAt = receivedAt;
  if (record.original && record.original !== record.sourceMessage) echo(GatewayDispatchEvents.MessageCreate, record.original);
  else if (record.visible && callback.type === InteractionResponseType.UpdateMessage) echo(GatewayDispatchEvents.MessageUpdate, record.visible);
  world.recordInitialResponse(record.ackedAt - record.dispatchedAt, describeInteraction(record));
  notify(record);
  if (query.get('with_response') === 'true') {
    sendJson(res, 200, {
      interaction: {
        id: record.id,
        type: record.payload.type,
        activity_instance_id: null,
        response_message_id: record.original?.id ?? null,
        response_message_loading: callback.type === InteractionResponseType.DeferredChannelMessageWithSource,
        response_message_ephemeral: record.original?.ephemeral ?? false,
      },
      ...(record.original ? { resource: { type: callback.type, message: toApiMessage(record.original) } } : {}),
    });
    return;
  }
  noContent(res);
}

function describeInteraction(record: InteractionRecord): string {
  const data = record.payload.data as { name?: string; custom_id?: string; options?: Array<{ name: string; type: number }> } | undefined;
  if (data?.name) {
    const sub = data.options?.find((o) => o.type === 1 || o.type === 2)?.name;
    return `/${data.name}${sub ? ` ${sub}` : ''}`;
  }
  return data?.custom_id ?? `type ${record.payload.type}`;
}

function onFollowUp(world: DiscordWorld, echo: Echo, { res, params, body }: RouteContext): void {
  const record = mustInteraction(world, params.token, params.appId);
  if (record.responseType === undefined) throw new DiscordApiError(404, 10015, 'Unknown Webhook', true);
  const input = body.json as MessageInput;
  const placeholder = record.original;
  if (
    record.responseType === InteractionResponseType.DeferredChannelMessageWithSource &&
    placeholder &&
    ((placeholder.flags ?? 0) & MessageFlags.Loading) !== 0
  ) {
    // Like Discord: the first follow-up after a deferral resolves the "thinking…" message in place, and its
    // visibility is the one chosen at deferral (a follow-up's ephemeral flag is ignored here).
    editMessage(placeholder, input, body.files);
    record.followUps.push(placeholder);
    record.visible ??= placeholder;
    notify(record);
    sendJson(res, 200, toApiMessage(placeholder));
    echo(GatewayDispatchEvents.MessageUpdate, placeholder);
    return;
  }
  const message = world.storeBotMessage(record.channelId, input, body.files, {
    interactionToken: record.token,
    visibleTo: record.user.id,
    type: MessageType.Default,
  });
  record.followUps.push(message);
  if (!record.visible) record.visible = message;
  notify(record);
  sendJson(res, 200, toApiMessage(message));
  echo(GatewayDispatchEvents.MessageCreate, message);
}

function webhookMessage(world: DiscordWorld, params: Record<string, string>, o: { probe?: boolean } = {}): { record: InteractionRecord; message: EmuMessage } {
  const record = mustInteraction(world, params.token, params.appId);
  const id = params.messageId;
  if (id === '@original') {
    if (!record.original) throw new DiscordApiError(404, 10008, 'Unknown Message', !o.probe);
    return { record, message: record.original };
  }
  const message = record.followUps.find((m) => m.id === id) ?? (record.original?.id === id ? record.original : undefined);
  if (!message) throw new DiscordApiError(404, 10008, 'Unknown Message');
  return { record, message };
}
