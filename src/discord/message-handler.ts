import type { Message, PartialMessage } from 'discord.js';
import type { AppContext } from '../app-context';

/**
 * Reacts to messages written in channels the bot can see (MESSAGE_CREATE). One file per handler, default-exporting
 * `{ name, execute } satisfies MessageHandler`, named `<name>.message.ts` in a module folder. Every handler sees every
 * message, the bot's own included: filter early and cheaply. Errors are logged by the router, never shown.
 */
export interface MessageHandler {
  name: string;
  execute(message: Message, ctx: AppContext): Promise<unknown>;
  /** A message was edited (MESSAGE_UPDATE); `message` carries the new content. Optional. */
  edited?(message: Message | PartialMessage, ctx: AppContext): Promise<unknown>;
  /** A message was deleted (MESSAGE_DELETE); only its id and channel are sure to be known (it may not be cached). */
  deleted?(message: Message | PartialMessage, ctx: AppContext): Promise<unknown>;
  /** Source file, when loaded from disk. */
  file?: string;
}
