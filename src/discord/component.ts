import type {
  AnySelectMenuInteraction,
  ButtonInteraction,
  ModalSubmitInteraction,
} from 'discord.js';
import type { AppContext } from '../app-context';
import type { Authority } from './command';

export type ComponentInteraction = ButtonInteraction | AnySelectMenuInteraction | ModalSubmitInteraction;

/**
 * Handles every button, select or modal whose custom id is `<action>:<arg>`. One file per action, default-exporting
 * `{ action, execute } satisfies ComponentHandler`, named `<action>.component.ts`.
 */
export interface ComponentHandler {
  action: string;
  execute(interaction: ComponentInteraction, arg: string, ctx: AppContext): Promise<unknown>;
  /** Checked on every press: custom ids can be forged, so the handler must not rely on who was shown the button. */
  requires?: Authority;
  /** Source file, when loaded from disk. */
  file?: string;
}

const MAX_CUSTOM_ID = 100;

/** Builds a custom id; the arg may itself contain ':' (only the first one splits). */
export function customId(action: string, arg = ''): string {
  if (action.includes(':')) throw new Error(`component action "${action}" must not contain ':'`);
  const id = `${action}:${arg}`;
  if (id.length > MAX_CUSTOM_ID) throw new Error(`custom id "${id}" is longer than ${MAX_CUSTOM_ID} characters`);
  return id;
}

export function parseCustomId(id: string): { action: string; arg: string } {
  const at = id.indexOf(':');
  return at === -1 ? { action: id, arg: '' } : { action: id.slice(0, at), arg: id.slice(at + 1) };
}
