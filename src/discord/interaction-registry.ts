import type { Command, LoadedCommand, CommandJson } from './command';
import { commandJson } from './command';
import type { ComponentHandler } from './component';
import type { MessageHandler } from './message-handler';

/** The commands and component handlers one client serves. */
export class InteractionRegistry {
  readonly commands = new Map<string, LoadedCommand>();
  readonly components = new Map<string, ComponentHandler>();
  readonly messageHandlers = new Map<string, MessageHandler>();

  addCommand(command: Command, group = 'general', file?: string): LoadedCommand {
    const json = commandJson(command.data);
    const existing = this.commands.get(json.name);
    if (existing) {
      throw new Error(`duplicate command /${json.name} (${existing.file ?? 'inline'} and ${file ?? 'inline'})`);
    }
    const loaded: LoadedCommand = { ...command, name: json.name, group, json, ...(file ? { file } : {}) };
    this.commands.set(json.name, loaded);
    return loaded;
  }

  registerComponent(handler: ComponentHandler): void {
    if (handler.action.includes(':')) throw new Error(`component action "${handler.action}" must not contain ':'`);
    const existing = this.components.get(handler.action);
    if (existing) {
      throw new Error(`duplicate component action "${handler.action}" (${existing.file ?? 'inline'} and ${handler.file ?? 'inline'})`);
    }
    this.components.set(handler.action, handler);
  }

  registerMessageHandler(handler: MessageHandler): void {
    const existing = this.messageHandlers.get(handler.name);
    if (existing) {
      throw new Error(`duplicate message handler "${handler.name}" (${existing.file ?? 'inline'} and ${handler.file ?? 'inline'})`);
    }
    this.messageHandlers.set(handler.name, handler);
  }

  /** Bodies for a bulk PUT of application commands. */
  commandsJson(): CommandJson[] {
    return [...this.commands.values()].map((c) => c.json);
  }

  /** Commands by group folder, both sorted by name. */
  groups(): Array<{ group: string; commands: LoadedCommand[] }> {
    const byGroup = new Map<string, LoadedCommand[]>();
    for (const c of this.commands.values()) byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
    return [...byGroup.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([group, commands]) => ({ group, commands: commands.sort((a, b) => a.name.localeCompare(b.name)) }));
  }
}
