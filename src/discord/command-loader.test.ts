import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCommands, loadComponents, loadMessageHandlers } from './command-loader';
import { InteractionRegistry } from './interaction-registry';

const dirs: string[] = [];
async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'solbound-loader-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const command = (name: string) => `export default { data: { name: '${name}', description: 'd' }, async execute() {} };`;

describe('command loader', () => {
  it('groups commands by their first folder and skips tests and _helpers', async () => {
    const root = await tree({
      'general/ping.ts': command('ping'),
      'wallet/link.ts': command('wallet'),
      'wallet/sub/deep.ts': command('deep'),
      'wallet/_shared.ts': 'export const x = 1;',
      'wallet/link.test.ts': 'throw new Error("must not load")',
      'top.ts': command('top'),
    });
    const registry = new InteractionRegistry();
    await loadCommands(registry, root);
    expect(registry.groups().map((g) => [g.group, g.commands.map((c) => c.name)])).toEqual([
      ['general', ['ping', 'top']],
      ['wallet', ['deep', 'wallet']],
    ]);
    expect(registry.commandsJson()).toContainEqual({ name: 'ping', description: 'd' });
  });

  it('rejects files without a command and duplicate names', async () => {
    await expect(loadCommands(new InteractionRegistry(), await tree({ 'a/x.ts': 'export default { nope: 1 };' }))).rejects.toThrow(
      /must default-export \{ data, execute \}/,
    );
    await expect(loadCommands(new InteractionRegistry(), await tree({ 'a/x.ts': command('same'), 'b/y.ts': command('same') }))).rejects.toThrow(
      /duplicate command \/same/,
    );
  });

  it('loads *.component.ts handlers from every root', async () => {
    const root = await tree({
      'tickets/ticket-close.component.ts': `export default { action: 'ticket-close', async execute() {} };`,
      'tickets/tickets.service.ts': 'throw new Error("services are not loaded")',
      'more/claim.component.ts': `export default { action: 'claim', async execute() {} };`,
    });
    const registry = new InteractionRegistry();
    await loadComponents(registry, [join(root, 'tickets'), join(root, 'more'), join(root, 'missing')]);
    expect([...registry.components.keys()].sort()).toEqual(['claim', 'ticket-close']);
  });

  it('loads *.message.ts handlers and rejects invalid or duplicate ones', async () => {
    const handler = (name: string) => `export default { name: '${name}', async execute() {} };`;
    const root = await tree({
      'tickets/ticket-thread.message.ts': handler('ticket-thread'),
      'tickets/ticket-close.component.ts': 'throw new Error("components are not message handlers")',
      'tickets/ticket-thread.message.test.ts': 'throw new Error("must not load")',
    });
    const registry = new InteractionRegistry();
    await loadMessageHandlers(registry, [root]);
    expect([...registry.messageHandlers.values()].map((h) => [h.name, h.file])).toEqual([['ticket-thread', join(root, 'tickets/ticket-thread.message.ts')]]);
    await expect(loadMessageHandlers(new InteractionRegistry(), [await tree({ 'x.message.ts': 'export default { execute() {} };' })])).rejects.toThrow(
      /must default-export \{ name, execute \}/,
    );
    await expect(loadMessageHandlers(new InteractionRegistry(), [await tree({ 'a/x.message.ts': handler('same'), 'b/y.message.ts': handler('same') })])).rejects.toThrow(
      /duplicate message handler "same"/,
    );
  });
});
