import { ButtonStyle, ComponentType, type APIEmbed } from 'discord-api-types/v10';
import type { EmuMessage } from './discord-state';

/**
 * Plain-text view of a bot message for the sandbox console and test failure output:
 * content, embeds with fields, attachments, then buttons as [Label](customId) and selects with their options.
 */
export function renderMessage(message: EmuMessage): string {
  const lines: string[] = [];
  const tag = [message.ephemeral ? '(only you can see this)' : '', message.deleted ? '(deleted)' : ''].filter(Boolean).join(' ');
  if (tag) lines.push(tag);
  if (message.content) lines.push(message.content);
  for (const embed of message.embeds ?? []) lines.push(...renderEmbed(embed));
  for (const file of message.files) lines.push(`📎 ${file.name} (${file.data.length} bytes)`);
  const controls: string[] = [];
  for (const row of message.components ?? []) {
    if (row.type !== ComponentType.ActionRow) continue;
    for (const c of row.components) {
      if (c.type === ComponentType.Button) {
        const label = ('label' in c ? c.label : undefined) ?? ('emoji' in c ? c.emoji?.name : undefined) ?? 'button';
        const target = c.style === ButtonStyle.Link && 'url' in c ? c.url : 'custom_id' in c ? c.custom_id : 'sku' in c ? `sku:${c.sku_id}` : '';
        controls.push(`[${label}](${target})${c.disabled ? ' (disabled)' : ''}`);
      } else if (c.type === ComponentType.StringSelect) {
        controls.push(`<${c.placeholder ?? 'select'}>(${c.custom_id}): ${c.options.map((o) => `${o.label}=${o.value}`).join(' | ')}`);
      } else if ('custom_id' in c) {
        controls.push(`<select>(${c.custom_id})`);
      }
    }
  }
  if (controls.length) lines.push(controls.join('  '));
  return lines.join('\n');
}

function renderEmbed(embed: APIEmbed): string[] {
  const lines: string[] = [];
  const bar = '│ ';
  if (embed.author?.name) lines.push(`${bar}${embed.author.name}`);
  if (embed.title) lines.push(`${bar}**${embed.title}**${embed.url ? ` <${embed.url}>` : ''}`);
  if (embed.description) lines.push(...embed.description.split('\n').map((l) => `${bar}${l}`));
  for (const field of embed.fields ?? []) {
    lines.push(`${bar}${field.name}: ${field.value.split('\n').join(`\n${bar}  `)}`);
  }
  if (embed.image?.url) lines.push(`${bar}[image ${embed.image.url}]`);
  if (embed.footer?.text) lines.push(`${bar}— ${embed.footer.text}`);
  return lines;
}

export interface MessageControl {
  kind: 'button' | 'select';
  label: string;
  customId: string | undefined;
  url: string | undefined;
  disabled: boolean;
}

/** Buttons and selects on a message, in order, for assertions like `expect(controls(m).map(c => c.customId))`. */
export function messageControls(message: EmuMessage): MessageControl[] {
  const controls: MessageControl[] = [];
  for (const row of message.components ?? []) {
    if (row.type !== ComponentType.ActionRow) continue;
    for (const c of row.components) {
      const customId = 'custom_id' in c ? c.custom_id : undefined;
      const disabled = 'disabled' in c ? (c.disabled ?? false) : false;
      if (c.type === ComponentType.Button) {
        const label = ('label' in c ? c.label : undefined) ?? ('emoji' in c ? c.emoji?.name : undefined) ?? '';
        controls.push({ kind: 'button', label, customId, url: 'url' in c ? c.url : undefined, disabled });
      } else {
        controls.push({ kind: 'select', label: ('placeholder' in c ? c.placeholder : undefined) ?? '', customId, url: undefined, disabled });
      }
    }
  }
  return controls;
}
