import { quote, UserError } from '../../errors';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "30s", "10m", "2h", "1d" (or a bare number of minutes) → seconds. */
export function parseDuration(input: string): number {
  const m = /^(\d{1,6})\s*([smhd]?)$/i.exec(input.trim());
  if (!m) throw new UserError('INVALID_DURATION', `${quote(input, 20)} is not a duration — use e.g. \`30s\`, \`10m\`, \`2h\` or \`1d\`.`);
  return Number(m[1]) * UNIT_SECONDS[(m[2] || 'm').toLowerCase()]!;
}
