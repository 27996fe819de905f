import { expect } from 'vitest';
import { UserError } from '../errors';

/** Awaits a promise that must reject with a UserError and returns it, for asserting its code and message. */
export async function userError(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}
