import type { QuotaService } from './quota.service';

type Status = NonNullable<Awaited<ReturnType<QuotaService['status']>>>;

/** A 20-cell text bar: `████████░░░░░░░░░░░░ 40%` (capped at 100% when over). */
export function progressBar(used: bigint, allowance: bigint, width = 20): string {
  if (allowance <= 0n) return `${'░'.repeat(width)} —`;
  const pct = Number((used * 1000n) / allowance) / 10;
  const filled = Math.min(width, Math.round((Math.min(pct, 100) / 100) * width));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${pct.toFixed(pct < 10 ? 1 : 0)}%`;
}

/** What /quota shows: the whole allowance, then each method's own pool, then closed periods. */
export function quotaView(s: Status, date: (d: Date) => string): string {
  const lines = [`**API quota** — period ${date(s.periodStart)} → ${date(s.periodEnd)}`, `\`${progressBar(s.total, s.allowanceTotal)}\` ${s.total} / ${s.allowanceTotal} requests`];
  for (const [method, allowance] of s.allowance.perMethod) {
    const used = s.used.get(method) ?? 0n;
    lines.push(`\`${progressBar(used, allowance)}\` ${method}: ${used} / ${allowance} (method bundle; beyond it the general pool is used)`);
  }
  const byMethod = [...s.used].filter(([m]) => !s.allowance.perMethod.has(m)).map(([m, n]) => `${m} ${n}`);
  if (byMethod.length) lines.push(`Usage by method: ${byMethod.join(', ')}`);
  if (s.history.length) lines.push(`Past periods: ${s.history.map((h) => `${h.period_start.toISOString().slice(0, 10)} ${h.requests + h.reported}`).join(' · ')}`);
  return lines.join('\n');
}
