import { randomBytes } from 'node:crypto';
import type { UserError } from '../errors';

/** Every error the bot shows starts with this marker, so the sandbox and tests can tell errors from answers. */
export const ERROR_MARK = '❌';

export function formatUserError(err: UserError): string {
  return `${ERROR_MARK} ${err.message}`;
}

export function formatInternalError(ref: string): string {
  return `${ERROR_MARK} Something went wrong (ref ${ref}). Please try again later or give this reference to support.`;
}

/** Short id that links the message a user sees to the log line with the stack trace. */
export function newErrorRef(): string {
  return randomBytes(4).toString('hex');
}

export function isErrorReply(content: string | undefined | null): boolean {
  return (content ?? '').startsWith(ERROR_MARK);
}

/** Reference id from an internal-error reply, if it is one. */
export function errorRefOf(content: string | undefined | null): string | undefined {
  return /\(ref ([0-9a-f]{8})\)/.exec(content ?? '')?.[1];
}
