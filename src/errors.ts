/**
 * A failure the user caused or can fix (insufficient balance, bad address, cooldown…). Services throw it; the
 * interaction router shows `message` to the user ephemerally and does not log it as an error. Anything that is
 * not a UserError is a bug or an outage: logged with a reference id and shown only as that id.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** Trimmed, whitespace runs (newlines too) collapsed to one space, cut to `max` characters with an ellipsis. */
function clip(input: string, max: number): string {
  const chars = [...input.trim().replace(/\s+/g, ' ')];
  return chars.length > max ? `${chars.slice(0, Math.max(1, max - 1)).join('')}…` : chars.join('');
}

/**
 * User input echoed in a message, in double quotes: clipped (see `clip`) so no reply can outgrow Discord's
 * 2,000-character limit, markdown characters escaped and mentions broken (a zero-width space after `@`), so the
 * echo can neither format the message nor ping anyone. Every UserError that repeats input goes through this.
 */
export function quote(input: string, max = 100): string {
  const safe = clip(input, max)
    .replace(/[\\`*_~|[\]]/g, (c) => `\\${c}`)
    .replace(/@/g, '@\u200b');
  return `"${safe}"`;
}

/** Like {@link quote}, as inline code (`…`): for echoing a corrected value the user can copy. */
export function quoteCode(input: string, max = 100): string {
  return `\`${clip(input, max).replace(/`/g, 'ˋ') || ' '}\``;
}
