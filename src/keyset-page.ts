import { UserError } from './errors';

/** A page of a newest-first listing; pass `nextCursor` back as `cursor` for the next (older) page. */
export interface KeysetPage<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Checks `limit` (1-100) and `cursor` (an id returned as nextCursor) of a keyset-paged listing. Error codes are
 * `<prefix>_BAD_LIMIT` / `<prefix>_BAD_CURSOR`.
 */
export function keysetArgs(input: { limit?: number | undefined; cursor?: string | undefined }, prefix: string): { limit: number; beforeId: bigint | undefined } {
  const limit = input.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UserError(`${prefix}_BAD_LIMIT`, 'limit must be an integer from 1 to 100.');
  if (input.cursor === undefined || input.cursor === '') return { limit, beforeId: undefined };
  if (!/^[1-9]\d{0,18}$/.test(input.cursor)) throw new UserError(`${prefix}_BAD_CURSOR`, 'cursor must be a value returned as nextCursor.');
  return { limit, beforeId: BigInt(input.cursor) };
}

/** Repositories fetch `limit + 1` rows: the extra one only says there is a next page. */
export function keysetPage<T extends { id: bigint }>(rows: T[], limit: number): KeysetPage<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? String(items[items.length - 1]!.id) : null };
}
