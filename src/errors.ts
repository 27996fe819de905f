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

/**
 * User input echoed in a message: trimmed, cut to `max` characters (with an ellipsis) so no reply can outgrow
 * Discord's 2,000-character limit, and shown as inline code with backticks and mention starts neutralised, so it
 * can neither format the message nor ping anyone.
 */
export function quote(input: string, max = 100): string {
  const flat = input.trim().replace(/\s+/g, ' ');
  const cut = [...flat].length > max ? `${[...flat].slice(0, max - 1).join('')}…` : flat;
  // ` ends inline code; @ and # would be mention/channel syntax; a zero-width space after them defuses both.
  const safe = cut.replace(/`/g, 'ˋ').replace(/([@#<])/g, '$1\u200b');
  return `\`${safe || ' '}\``;
}
