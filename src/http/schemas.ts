import { z } from 'zod';

/** A Discord user id, as every route taking one checks it. */
export const snowflake = z.string().regex(/^\d{15,22}$/, 'must be a Discord snowflake (15-22 digits)');

/** A bigint database id in a path or query string. */
export const idParam = (name: string) => z.string().regex(/^[1-9]\d{0,18}$/, 'must be a positive integer').transform(BigInt).describe(name);
