import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './command';
import type { ComponentHandler } from './component';
import { InteractionRegistry } from './interaction-registry';
import type { MessageHandler } from './message-handler';

/** `<repo>/commands`, resolved from this file so it works from scripts, tests and main alike. */
export const DEFAULT_COMMANDS_DIR = fileURLToPath(new URL('../../commands', import.meta.url));
/** Roots scanned for `*.component.ts` and `*.message.ts`: src/discord/components and every module folder. */
export const DEFAULT_COMPONENT_ROOTS = [
  fileURLToPath(new URL('./components', import.meta.url)),
  fileURLToPath(new URL('../modules', import.meta.url)),
];

const SOURCE = /\.(ts|js|mts|mjs)$/;
const NOT_LOADABLE = /\.(test|spec)\.[mc]?[tj]s$|\.d\.ts$/;

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    // `_helpers.ts` / `_shared/` next to commands are support code, not commands or handlers.
    if (entry.name.startsWith('_')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (SOURCE.test(entry.name) && !NOT_LOADABLE.test(entry.name)) files.push(path);
  }
  return files;
}

async function importDefault(file: string): Promise<unknown> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  return mod.default;
}

function isCommand(value: unknown): value is Command {
  const v = value as Partial<Command> | undefined;
  return typeof v === 'object' && v !== null && typeof v.execute === 'function' && typeof v.data === 'object' && v.data !== null;
}

function isComponentHandler(value: unknown): value is ComponentHandler {
  const v = value as Partial<ComponentHandler> | undefined;
  return typeof v === 'object' && v !== null && typeof v.action === 'string' && typeof v.execute === 'function';
}

function isMessageHandler(value: unknown): value is MessageHandler {
  const v = value as Partial<MessageHandler> | undefined;
  return typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.execute === 'function';
}

/**
 * Loads every `commands/<group>/<name>.ts` (any depth) into the registry. The group is the first folder under `dir`
 * (files directly in `dir` go to "general"). A file without a valid default export is a startup error.
 */
export async function loadCommands(registry: InteractionRegistry, dir = DEFAULT_COMMANDS_DIR): Promise<void> {
  for (const file of await walk(dir)) {
    const command = await importDefault(file);
    if (!isCommand(command)) throw new Error(`${file} must default-export { data, execute } (a Command)`);
    const rel = relative(dir, dirname(file));
    const group = rel === '' ? 'general' : (rel.split(sep)[0] ?? 'general');
    registry.addCommand(command, group, file);
  }
}

/** Loads every `*.component.ts` under the roots into the registry. */
export async function loadComponents(registry: InteractionRegistry, roots: string[] = DEFAULT_COMPONENT_ROOTS): Promise<void> {
  for (const root of roots) {
    for (const file of await walk(root)) {
      if (!/\.component\.[mc]?[tj]s$/.test(basename(file))) continue;
      const handler = await importDefault(file);
      if (!isComponentHandler(handler)) throw new Error(`${file} must default-export { action, execute } (a ComponentHandler)`);
      registry.registerComponent({ ...handler, file });
    }
  }
}

/** Loads every `*.message.ts` under the roots into the registry. */
export async function loadMessageHandlers(registry: InteractionRegistry, roots: string[] = DEFAULT_COMPONENT_ROOTS): Promise<void> {
  for (const root of roots) {
    for (const file of await walk(root)) {
      if (!/\.message\.[mc]?[tj]s$/.test(basename(file))) continue;
      const handler = await importDefault(file);
      if (!isMessageHandler(handler)) throw new Error(`${file} must default-export { name, execute } (a MessageHandler)`);
      registry.registerMessageHandler({ ...handler, file });
    }
  }
}

/** The registry the bot serves: commands from `commandsDir`, components and message handlers from `componentRoots`. */
export async function buildRegistry(
  opts: { commandsDir?: string; componentRoots?: string[] } = {},
): Promise<InteractionRegistry> {
  const registry = new InteractionRegistry();
  await loadCommands(registry, opts.commandsDir ?? DEFAULT_COMMANDS_DIR);
  await loadComponents(registry, opts.componentRoots ?? DEFAULT_COMPONENT_ROOTS);
  await loadMessageHandlers(registry, opts.componentRoots ?? DEFAULT_COMPONENT_ROOTS);
  return registry;
}
