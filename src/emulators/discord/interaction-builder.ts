import { performance } from 'node:perf_hooks';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ComponentType,
  InteractionContextType,
  type InteractionType,
  type APIActionRowComponent,
  type APIApplicationCommand,
  type APIApplicationCommandOption,
  type APIComponentInMessageActionRow,
  type APIInteraction,
  type APIInteractionDataResolved,
  type APIInteractionGuildMember,
  type APIModalInteractionResponseCallbackData,
} from 'discord-api-types/v10';
import {
  ALL_PERMISSIONS,
  channelPermissions,
  memberPermissions,
  randomToken,
  snowflake,
  toApiChannel,
  toApiMember,
  toApiRole,
  toApiUser,
  type EmuChannel,
  type EmuGuild,
  type EmuMessage,
  type EmuRole,
  type EmuUser,
} from './discord-state';
import type { DiscordWorld } from './discord-world';
import type { InteractionRecord } from './interaction-result';

export interface InteractionOptions {
  channel?: EmuChannel | string;
  /** Send from the user's DM channel with the bot instead of a guild channel. */
  dm?: boolean;
  locale?: string;
}

export interface AttachmentInput {
  name: string;
  data: Buffer | string;
  contentType?: string;
}

export type OptionValue = string | number | boolean | EmuUser | EmuRole | EmuChannel | AttachmentInput;

/**
 * Turns what a test asks for (a command line with options, a click, a select, a modal) into the interaction
 * payload Discord would send, refusing what a Discord client would never let a user do.
 */
export class InteractionBuilder {
  constructor(
    private readonly world: DiscordWorld,
    /** Base URL of the emulator: attachment URLs point back at it. */
    private readonly baseUrl: () => string,
  ) {}

  /** Data of an APPLICATION_COMMAND (or, with `focused`, AUTOCOMPLETE) interaction for `/name sub… options`. */
  commandData(user: EmuUser, command: string, options: Record<string, OptionValue>, opts: InteractionOptions, focused?: string): unknown {
    const { def, path } = this.findCommand(user, command, opts);
    if (focused !== undefined) {
      const built = this.buildOptions(def, path, options, {}, focused);
      return { id: def.id, name: def.name, type: ApplicationCommandType.ChatInput, options: built };
    }
    const resolved: APIInteractionDataResolved = {};
    const built = this.buildOptions(def, path, options, resolved, undefined);
    return {
      id: def.id,
      name: def.name,
      type: ApplicationCommandType.ChatInput,
      ...(def.guild_id ? { guild_id: def.guild_id } : {}),
      ...(built.length ? { options: built } : {}),
      ...(Object.keys(resolved).length ? { resolved } : {}),
    };
  }

  /** Data of a button click on `message`. */
  clickData(message: EmuMessage, customId: string): Record<string, unknown> {
    const component = findComponent(message, customId);
    if (component.type !== ComponentType.Button) throw new Error(`component ${customId} is not a button`);
    if (component.disabled) throw new Error(`button ${customId} is disabled`);
    return { custom_id: customId, component_type: ComponentType.Button };
  }

  /** Data of a select menu choice on `message`. */
  selectData(message: EmuMessage, customId: string, values: string[]): Record<string, unknown> {
    const component = findComponent(message, customId);
    if (component.type === ComponentType.Button) throw new Error(`component ${customId} is a button, not a select`);
    if (component.type === ComponentType.StringSelect) {
      const allowed = new Set(component.options.map((o) => o.value));
      const bad = values.filter((v) => !allowed.has(v));
      if (bad.length) throw new Error(`select ${customId} has no option(s) ${bad.join(', ')}`);
    }
    const resolved: APIInteractionDataResolved = {};
    if (component.type === ComponentType.UserSelect) {
      resolved.users = Object.fromEntries(values.map((id) => [id, toApiUser(this.mustUser(id))]));
    }
    if (component.type === ComponentType.RoleSelect) {
      resolved.roles = Object.fromEntries(values.map((id) => [id, toApiRole(this.mustRole(id))]));
    }
    return {
      custom_id: customId,
      component_type: component.type,
      values,
      ...(Object.keys(resolved).length ? { resolved } : {}),
    };
  }

  /** Data of a MODAL_SUBMIT for the modal the bot showed. */
  modalSubmitData(modal: APIModalInteractionResponseCallbackData, customId: string, fields: Record<string, string>): unknown {
    if (modal.custom_id !== customId) throw new Error(`the modal shown is "${modal.custom_id}", not "${customId}"`);
    const inputIds = modalInputIds(modal);
    for (const key of Object.keys(fields)) {
      if (!inputIds.has(key)) throw new Error(`modal ${customId} has no field "${key}" (has: ${[...inputIds].join(', ')})`);
    }
    const components = [...inputIds].map((id) => ({
      type: ComponentType.ActionRow,
      components: [{ type: ComponentType.TextInput, custom_id: id, value: fields[id] ?? '' }],
    }));
    return { custom_id: customId, components };
  }

  /** The full interaction (payload plus what the emulator tracks about it) sent by `user` in `channel`. */
  record(
    user: EmuUser,
    channel: EmuChannel,
    locale: string | undefined,
    body: { type: InteractionType; data: unknown; message?: unknown },
    sourceMessage?: EmuMessage,
  ): InteractionRecord {
    const { world } = this;
    const inGuild = channel.guildId !== null;
    // The channel decides the guild: a button pressed on another guild's message comes from that guild.
    const guild = world.guildOf(channel);
    const member = inGuild ? guild.members.get(user.id) : undefined;
    if (inGuild && !member) throw new Error(`${user.username} is not a member of ${guild.name}`);
    const id = snowflake();
    const token = `itok.${randomToken(20)}`;
    const apiChannel = toApiChannel(channel, world.users);
    const payload = {
      id,
      application_id: world.appId,
      token,
      version: 1,
      type: body.type,
      data: body.data,
      ...(body.message ? { message: body.message } : {}),
      channel: apiChannel,
      channel_id: channel.id,
      app_permissions: appPermissions(world, guild, channel, inGuild).toString(),
      locale: locale ?? 'en-US',
      entitlements: [],
      attachment_size_limit: 10 * 1024 * 1024,
      ...(inGuild && member
        ? {
            guild_id: guild.id,
            guild: { id: guild.id, locale: 'en-US', features: [] },
            guild_locale: 'en-US',
            member: { ...toApiMember(member, world.users), permissions: memberPermissions(guild, member).toString() } satisfies APIInteractionGuildMember,
            authorizing_integration_owners: { '0': guild.id },
            context: InteractionContextType.Guild,
          }
        : {
            user: toApiUser(user),
            authorizing_integration_owners: { '0': guild.id },
            context: InteractionContextType.BotDM,
          }),
    } as unknown as APIInteraction;
    return {
      id,
      token,
      payload,
      user,
      channelId: channel.id,
      guildId: inGuild ? guild.id : null,
      dispatchedAt: performance.now(),
      createdAt: this.world.now(),
      followUps: [],
      listeners: new Set(),
      ...(sourceMessage ? { sourceMessage } : {}),
    };
  }

  private findCommand(user: EmuUser, command: string, opts: InteractionOptions): { def: APIApplicationCommand; path: string[] } {
    const { world } = this;
    const [rawName, ...path] = command.trim().replace(/^\//, '').split(/\s+/);
    const name = rawName ?? '';
    const guildDefs = opts.dm ? [] : (world.guildCommands.get(world.guild.id) ?? []);
    const def = guildDefs.find((c) => c.name === name) ?? world.globalCommands.find((c) => c.name === name);
    if (!def) {
      const known = [...guildDefs, ...world.globalCommands].map((c) => `/${c.name}`).join(', ') || 'none';
      throw new Error(`command /${name} is not registered (registered: ${known})`);
    }
    // Discord's client never offers these, so a test doing it is testing something users cannot do.
    if (opts.dm && def.contexts && !def.contexts.includes(InteractionContextType.BotDM)) {
      throw new Error(`/${name} is not available in DMs (contexts ${def.contexts.join(',')})`);
    }
    const member = opts.dm ? undefined : world.guild.members.get(user.id);
    if (member && def.default_member_permissions) {
      const needed = BigInt(def.default_member_permissions);
      if ((memberPermissions(world.guild, member) & needed) !== needed) {
        throw new Error(`${user.username} lacks default_member_permissions ${needed} for /${name}; Discord hides it from them`);
      }
    }
    return { def, path };
  }

  private buildOptions(
    def: APIApplicationCommand,
    path: string[],
    values: Record<string, OptionValue>,
    resolved: APIInteractionDataResolved,
    focused: string | undefined,
  ): unknown[] {
    let defs: APIApplicationCommandOption[] = def.options ?? [];
    const wrappers: Array<{ type: ApplicationCommandOptionType; name: string }> = [];
    for (const word of path) {
      const sub = defs.find(
        (o) => o.name === word && (o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup),
      );
      if (!sub || !('options' in sub)) throw new Error(`/${def.name} has no subcommand "${word}"`);
      wrappers.push({ type: sub.type, name: sub.name });
      defs = (sub.options ?? []) as APIApplicationCommandOption[];
    }
    if (defs.some((o) => o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup)) {
      throw new Error(`/${[def.name, ...path].join(' ')} needs a subcommand: ${defs.map((o) => o.name).join(', ')}`);
    }
    const leaf: unknown[] = [];
    for (const [name, raw] of Object.entries(values)) {
      const optDef = defs.find((o) => o.name === name);
      if (!optDef) throw new Error(`/${[def.name, ...path].join(' ')} has no option "${name}" (has: ${defs.map((o) => o.name).join(', ') || 'none'})`);
      const isFocused = focused === name;
      const value = isFocused ? String(raw) : this.convertOption(optDef, raw, resolved);
      leaf.push({ name, type: optDef.type, value, ...(isFocused ? { focused: true } : {}) });
    }
    if (focused === undefined) {
      for (const o of defs) {
        if ('required' in o && o.required && !(o.name in values)) throw new Error(`option "${o.name}" is required`);
      }
    }
    let result: unknown[] = leaf;
    for (const w of wrappers.reverse()) result = [{ type: w.type, name: w.name, options: result }];
    return result;
  }

  private convertOption(def: APIApplicationCommandOption, raw: OptionValue, resolved: APIInteractionDataResolved): unknown {
    const { world } = this;
    const fail = (why: string) => new Error(`option "${def.name}": ${why}`);
    const checkChoices = (value: string | number) => {
      const choices = 'choices' in def ? def.choices : undefined;
      if (choices?.length && !choices.some((c) => c.value === value)) {
        throw fail(`${value} is not one of ${choices.map((c) => c.value).join(', ')}`);
      }
      return value;
    };
    switch (def.type) {
      case ApplicationCommandOptionType.String:
        return checkChoices(String(raw));
      case ApplicationCommandOptionType.Integer:
      case ApplicationCommandOptionType.Number: {
        const n = typeof raw === 'number' ? raw : Number(raw);
        if (!Number.isFinite(n)) throw fail(`${String(raw)} is not a number`);
        if (def.type === ApplicationCommandOptionType.Integer && !Number.isInteger(n)) throw fail(`${n} is not an integer`);
        if (def.min_value !== undefined && n < def.min_value) throw fail(`${n} < min ${def.min_value}`);
        if (def.max_value !== undefined && n > def.max_value) throw fail(`${n} > max ${def.max_value}`);
        return checkChoices(n);
      }
      case ApplicationCommandOptionType.Boolean:
        if (typeof raw === 'boolean') return raw;
        if (raw === 'true' || raw === 'false') return raw === 'true';
        throw fail(`${String(raw)} is not a boolean`);
      case ApplicationCommandOptionType.User:
      case ApplicationCommandOptionType.Mentionable: {
        const user = this.asUser(raw);
        if (user) {
          (resolved.users ??= {})[user.id] = toApiUser(user);
          const member = world.guild.members.get(user.id);
          if (member) {
            const { user: _u, ...rest } = toApiMember(member, world.users);
            (resolved.members ??= {})[user.id] = { ...rest, permissions: memberPermissions(world.guild, member).toString() };
          }
          return user.id;
        }
        if (def.type === ApplicationCommandOptionType.User) throw fail(`no user ${describeValue(raw)}`);
        const role = this.asRole(raw);
        if (!role) throw fail(`no user or role ${describeValue(raw)}`);
        (resolved.roles ??= {})[role.id] = toApiRole(role);
        return role.id;
      }
      case ApplicationCommandOptionType.Role: {
        const role = this.asRole(raw);
        if (!role) throw fail(`no role ${describeValue(raw)}`);
        (resolved.roles ??= {})[role.id] = toApiRole(role);
        return role.id;
      }
      case ApplicationCommandOptionType.Channel: {
        const channel = typeof raw === 'object' && 'type' in raw ? raw : typeof raw === 'string' ? world.findChannel(raw) : undefined;
        if (!channel) throw fail(`no channel ${describeValue(raw)}`);
        (resolved.channels ??= {})[channel.id] = { ...toApiChannel(channel, world.users), permissions: ALL_PERMISSIONS.toString() } as never;
        return channel.id;
      }
      case ApplicationCommandOptionType.Attachment: {
        if (typeof raw !== 'object' || !('data' in raw)) throw fail('expects { name, data }');
        const id = snowflake();
        const data = typeof raw.data === 'string' ? Buffer.from(raw.data) : raw.data;
        const url = this.baseUrl();
        (resolved.attachments ??= {})[id] = {
          id,
          filename: raw.name,
          size: data.length,
          url: `${url}/attachments/${id}/${raw.name}`,
          proxy_url: `${url}/attachments/${id}/${raw.name}`,
          ...(raw.contentType ? { content_type: raw.contentType } : {}),
        };
        world.uploads.set(id, { id, name: raw.name, contentType: raw.contentType, data });
        return id;
      }
      default:
        throw fail(`unsupported option type ${def.type}`);
    }
  }

  private asUser(raw: OptionValue): EmuUser | undefined {
    if (typeof raw === 'object') return 'username' in raw ? raw : undefined;
    return typeof raw === 'string' ? this.world.findUser(raw) : undefined;
  }

  private asRole(raw: OptionValue): EmuRole | undefined {
    if (typeof raw === 'object') return 'permissions' in raw ? raw : undefined;
    return typeof raw === 'string' ? this.world.findRole(raw) : undefined;
  }

  private mustUser(id: string): EmuUser {
    const user = this.world.findUser(id);
    if (!user) throw new Error(`no user ${id}`);
    return user;
  }

  private mustRole(id: string): EmuRole {
    const role = this.asRole(id);
    if (!role) throw new Error(`no role ${id}`);
    return role;
  }
}

function findComponent(message: EmuMessage, customId: string): APIComponentInMessageActionRow {
  for (const row of message.components ?? []) {
    if (row.type !== ComponentType.ActionRow) continue;
    for (const c of (row as APIActionRowComponent<APIComponentInMessageActionRow>).components) {
      if ('custom_id' in c && c.custom_id === customId) return c;
    }
  }
  throw new Error(`message ${message.id} has no component "${customId}"`);
}

function modalInputIds(modal: APIModalInteractionResponseCallbackData): Set<string> {
  const ids = new Set<string>();
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const c = node as { type?: number; custom_id?: string; components?: unknown[]; component?: unknown };
    if (c.type === ComponentType.TextInput && c.custom_id) ids.add(c.custom_id);
    for (const child of c.components ?? []) visit(child);
    if (c.component) visit(c.component);
  };
  for (const row of modal.components ?? []) visit(row);
  return ids;
}

function describeValue(raw: OptionValue): string {
  return typeof raw === 'object' ? JSON.stringify('name' in raw ? raw.name : raw) : String(raw);
}

/** The bot's permissions where the interaction happened, as Discord sends them in `app_permissions`. */
function appPermissions(world: DiscordWorld, guild: EmuGuild, channel: EmuChannel, inGuild: boolean): bigint {
  const me = guild.members.get(world.bot.id);
  if (!inGuild || !me) return ALL_PERMISSIONS;
  return channelPermissions(guild, me, channel, world.channels);
}
