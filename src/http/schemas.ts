import { z } from 'zod';

/** A Discord user id, as every route taking one checks it. */
export const snowflake = z.string().regex(/^\d{15,22}$/, 'must be a Discord snowflake (15-22 digits)');
