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
