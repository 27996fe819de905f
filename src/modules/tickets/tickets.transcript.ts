import type { Ticket, TranscriptEntry } from './tickets.service';

const iso = (d: Date) => d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');

/** Markdown transcript; staff notes appear only when the entries include them (staff copies). */
export function renderTranscript(ticket: Ticket, entries: TranscriptEntry[], opts: { includesNotes: boolean }): string {
  const lines = [
    `# Ticket #${ticket.id} — ${ticket.subject}`,
    '',
    `- Opened by: <@${ticket.discord_id}> on ${iso(ticket.created_at)}`,
    `- Category: ${ticket.category} · Priority: ${ticket.priority} · Status: ${ticket.status}`,
  ];
  if (ticket.claimed_by_discord_id) lines.push(`- Claimed by: <@${ticket.claimed_by_discord_id}>`);
  if (ticket.linked_ref) lines.push(`- Linked: ${ticket.linked_ref}`);
  if (ticket.closed_at) {
    const by = ticket.closed_by_discord_id ? `<@${ticket.closed_by_discord_id}>` : 'the system';
    lines.push(`- Closed by ${by} on ${iso(ticket.closed_at)}${ticket.close_reason ? `: ${ticket.close_reason}` : ''}`);
  }
  if (ticket.rating !== null) lines.push(`- Rating: ${ticket.rating}/5${ticket.feedback ? ` — “${ticket.feedback}”` : ''}`);
  if (opts.includesNotes) lines.push('- Staff copy: includes staff notes (never shown to the member)');
  lines.push('', '## Description', '', ticket.description, '', '## Messages', '');
  if (entries.length === 0) lines.push('_No messages._');
  for (const e of entries) {
    const tags = [
      e.is_staff_note ? ' · 🔒 staff note' : '',
      e.edited_at ? ` · ✏️ edited ${iso(e.edited_at)}` : '',
      e.deleted_at ? ` · 🗑️ deleted ${iso(e.deleted_at)}` : '',
    ].join('');
    lines.push(`**${e.author_username}** (<@${e.author_discord_id}>) · ${iso(e.created_at)}${tags}`, '', e.body, '');
    if (e.original_body !== null && e.edited_at) lines.push('_First written:_', '', ...e.original_body.split('\n').map((l) => `> ${l}`), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
