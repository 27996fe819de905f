import type { DiscordEmulator, EmuChannel, EmuMessage, EmuUser } from '../../emulators/discord';

// Test helpers for the tickets e2e tests (not loaded by the app): opening a ticket the way a member does.

/** `/ticket open` → the modal → submitted with `fields`; returns the modal shown and the ephemeral answer. */
export async function submitTicketForm(
  emu: DiscordEmulator,
  user: EmuUser,
  fields: { subject: string; description: string },
  options: Record<string, string> = { category: 'wallet', priority: 'high' },
) {
  const shown = emu.runCommand(user, '/ticket open', options);
  const modal = await shown.modal();
  const reply = await emu.submitModal(user, shown, modal.custom_id, fields).reply();
  return { modal, reply };
}

/** Opens a ticket that must succeed; returns its id, its private thread and the card (the thread's first message). */
export async function openTicketThread(emu: DiscordEmulator, user: EmuUser, subject: string): Promise<{ id: string; thread: EmuChannel; card: EmuMessage }> {
  const { reply } = await submitTicketForm(emu, user, { subject, description: 'I sent 1 SOL to my deposit address an hour ago.' });
  const m = /Ticket \*\*#(\d+)\*\* opened: <#(\d+)>/.exec(reply.content);
  if (!m) throw new Error(`unexpected reply: ${reply.content}`);
  const thread = emu.channels.get(m[2]!)!;
  return { id: m[1]!, thread, card: emu.channelMessages(thread)[0]! };
}
