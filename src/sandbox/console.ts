import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { isErrorReply } from '../discord/error-reply';
import type { DiscordEmulator } from '../emulators/discord/discord-emulator';
import type { EmuMessage, EmuUser } from '../emulators/discord/discord-state';
import type { InteractionResult } from '../emulators/discord/interaction-result';
import { renderMessage } from '../emulators/discord/render-message';

const HELP = `Commands:
  as <user> /<command> [sub] [option:value ...]   run a slash command (values with spaces: opt:"two words"; users: @alice)
  as <user> click <customId>                     click that button on the latest message showing it
  as <user> select <customId> <value>[,<value>]  choose options in a select menu
  as <user> modal <customId> field=value ...     submit the modal the bot last showed that user
  as <user> say <#channel-or-thread> text ...    write a message in a channel or thread (e.g. a ticket thread)
  users                                          list users and their roles
  help                                           this text
  quit                                           leave
Unknown users are created as guild members on first use.`;

/** How long to keep collecting follow-ups and DMs after the first reply, so one step prints everything it caused. */
const SETTLE_MS = 60;

export interface StepOutcome {
  output: string;
  /** Some message the step produced is an error reply (❌ …). */
  isError: boolean;
}

/** Holds what a console session remembers between lines (modals shown, per user). */
export class ConsoleSession {
  private readonly modals = new Map<string, InteractionResult[]>();

  constructor(
    readonly emu: DiscordEmulator,
    private readonly replyTimeoutMs = 10_000,
  ) {}

  async execute(line: string): Promise<StepOutcome> {
    const words = tokenize(line);
    const [head, ...rest] = words;
    if (!head) return { output: '', isError: false };
    if (head === 'help') return { output: HELP, isError: false };
    if (head === 'users') return { output: this.listUsers(), isError: false };
    if (head !== 'as' || rest.length < 2) throw new Error(`cannot parse "${line}" (type help)`);
    const [name, verb, ...args] = rest as [string, string, ...string[]];
    const user = this.emu.user(name);
    if (verb.startsWith('/')) return this.run(user, () => this.command(user, verb, args));
    switch (verb) {
      case 'click': {
        const id = need(args[0], 'click <customId>');
        return this.run(user, () => this.emu.click(user, this.messageShowing(user, id), id));
      }
      case 'select': {
        const id = need(args[0], 'select <customId> <values>');
        const values = need(args[1], 'select <customId> <values>').split(',');
        return this.run(user, () => this.emu.select(user, this.messageShowing(user, id), id, values));
      }
      case 'modal': {
        const id = need(args[0], 'modal <customId> field=value ...');
        const shownBy = [...(this.modals.get(user.id) ?? [])].reverse().find((r) => r.shownModal?.custom_id === id);
        if (!shownBy) throw new Error(`the bot has not shown ${user.username} a modal "${id}"`);
        const fields = Object.fromEntries(args.slice(1).map((a) => splitPair(a, '=')));
        return this.run(user, () => this.emu.submitModal(user, shownBy, id, fields));
      }
      case 'say': {
        const where = need(args[0], 'say <#channel-or-thread> text');
        return this.say(user, where, need(args.slice(1).join(' '), 'say <#channel-or-thread> text'));
      }
      default:
        throw new Error(`unknown action "${verb}" (type help)`);
    }
  }

  private command(user: EmuUser, name: string, args: string[]): InteractionResult {
    const path = args.filter((a) => !a.includes(':'));
    const options = Object.fromEntries(args.filter((a) => a.includes(':')).map((a) => splitPair(a, ':')));
    // Mentioning someone new brings them into the guild, like acting as them does.
    for (const value of Object.values(options)) {
      for (const [, mentioned] of value.matchAll(/(?:^|\s)@([\w.-]+)/g)) if (mentioned) this.emu.user(mentioned);
    }
    return this.emu.runCommand(user, [name, ...path].join(' '), options);
  }

  private async run(user: EmuUser, send: () => InteractionResult): Promise<StepOutcome> {
    const before = this.emu.messages.length;
    const result = send();
    await result.until((r) => r.messages.length > 0 || r.shownModal !== undefined, this.replyTimeoutMs);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const lines: string[] = [];
    if (result.shownModal) {
      const modal = result.shownModal;
      const list = this.modals.get(user.id) ?? [];
      this.modals.set(user.id, [...list.slice(-9), result]);
      const fields = [...JSON.stringify(modal.components).matchAll(/"custom_id":"([^"]+)"/g)].map((m) => m[1]);
      lines.push(`bot → ${user.username}: [modal ${modal.custom_id}] ${modal.title}`);
      lines.push(`  answer with: as ${user.username} modal ${modal.custom_id} ${fields.map((f) => `${f}=...`).join(' ')}`);
    }
    const produced = [...new Set([...result.messages, ...this.emu.messages.slice(before)])].filter((m) => !m.deleted);
    for (const message of produced) lines.push(`${this.header(message, user)}\n${indent(this.humanize(renderMessage(message)))}`);
    return { output: lines.join('\n'), isError: produced.some((m) => isErrorReply(m.content)) };
  }

  /** A user message has no reply to wait for: show it, then whatever the bot posted while it settled. */
  private async say(user: EmuUser, where: string, text: string): Promise<StepOutcome> {
    const before = this.emu.messages.length;
    const message = this.emu.say(user, where, text);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const channel = this.emu.channels.get(message.channel_id);
    const lines = [`${user.username} in #${channel?.name ?? message.channel_id}:\n${indent(renderMessage(message))}`];
    const produced = this.emu.messages.slice(before).filter((m) => m !== message && !m.deleted);
    for (const m of produced) lines.push(`${this.header(m, user)}\n${indent(renderMessage(m))}`);
    return { output: lines.join('\n'), isError: produced.some((m) => isErrorReply(m.content)) };
  }

  private header(message: EmuMessage, actor: EmuUser): string {
    const channel = this.emu.channels.get(message.channel_id);
    if (channel && !channel.guildId) {
      const to = channel.recipientId ? this.emu.users.get(channel.recipientId)?.username : '?';
      return `bot → DM @${to}:`;
    }
    const where = channel ? `#${channel.name}` : message.channel_id;
    return message.ephemeral ? `bot → ${actor.username} in ${where}:` : `bot in ${where}:`;
  }

  /** What a Discord client shows instead of raw markup: names for user/channel mentions, dates for timestamps. */
  private humanize(text: string): string {
    return text
      .replace(/<@!?(\d+)>/g, (raw, id: string) => (this.emu.users.get(id) ? `@${this.emu.users.get(id)!.username}` : raw))
      .replace(/<#(\d+)>/g, (raw, id: string) => (this.emu.channels.get(id) ? `#${this.emu.channels.get(id)!.name}` : raw))
      .replace(/<t:(\d+)(?::[tTdDfFR])?>/g, (_raw, secs: string) => new Date(Number(secs) * 1000).toISOString().replace('.000Z', 'Z'));
  }

  /** Latest live message with that component that this user can see. */
  private messageShowing(user: EmuUser, customId: string): EmuMessage {
    const needle = `"custom_id":${JSON.stringify(customId)}`;
    const found = [...this.emu.messages]
      .reverse()
      .find((m) => !m.deleted && (!m.ephemeral || m.visibleTo === user.id) && JSON.stringify(m.components ?? []).includes(needle));
    if (!found) throw new Error(`no message visible to ${user.username} shows "${customId}"`);
    return found;
  }

  private listUsers(): string {
    return [...this.emu.guild.members.values()]
      .map((m) => {
        const user = this.emu.users.get(m.userId);
        const roles = [...m.roleIds].map((id) => this.emu.guild.roles.get(id)?.name).filter(Boolean);
        return `@${user?.username ?? m.userId}${user?.bot ? ' (bot)' : ''}${roles.length ? ` [${roles.join(', ')}]` : ''}`;
      })
      .join('\n');
  }
}

/** Interactive loop: one line in, the bot's visible answers out, until `quit` or end of input. */
export async function runConsole(emu: DiscordEmulator, input: Readable, output: Writable): Promise<void> {
  const session = new ConsoleSession(emu);
  const rl = createInterface({ input, output, terminal: false });
  output.write(`Connected to ${emu.guild.name}. Type help for commands.\n> `);
  for await (const line of rl) {
    const trimmed = line.trim();
    if (trimmed === 'quit' || trimmed === 'exit') break;
    try {
      const { output: text } = await session.execute(trimmed);
      if (text) output.write(`${text}\n`);
    } catch (err) {
      output.write(`! ${(err as Error).message}\n`);
    }
    output.write('> ');
  }
  rl.close();
}

const EXPECT_ERROR = /\s+#\s*expect-error\s*$/;

/**
 * Runs lines non-interactively (npm run demo). Blank lines and `#` comments are skipped. A step whose reply is an
 * error fails the script unless the line ends with `# expect-error`, which in turn fails if no error came.
 */
export async function runScript(emu: DiscordEmulator, lines: string[], log: (text: string) => void = () => undefined): Promise<string[]> {
  const session = new ConsoleSession(emu);
  const transcript: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const expectError = EXPECT_ERROR.test(line);
    const step = line.replace(EXPECT_ERROR, '');
    const { output, isError } = await session.execute(step);
    const entry = `> ${step}\n${output}`;
    transcript.push(entry);
    log(entry);
    if (isError && !expectError) throw new Error(`step "${step}" answered with an error:\n${output}`);
    if (!isError && expectError) throw new Error(`step "${step}" was expected to fail but answered:\n${output}`);
  }
  return transcript;
}

function tokenize(line: string): string[] {
  const tokens = line.match(/[^\s"]*"[^"]*"|\S+/g) ?? [];
  return tokens.map((t) => t.replace(/^([^"]*)"([^"]*)"$/, '$1$2'));
}

function splitPair(arg: string, sep: ':' | '='): [string, string] {
  const at = arg.indexOf(sep);
  if (at <= 0) throw new Error(`expected name${sep}value, got "${arg}"`);
  return [arg.slice(0, at), arg.slice(at + 1)];
}

function need(value: string | undefined, usage: string): string {
  if (!value) throw new Error(`usage: as <user> ${usage}`);
  return value;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
