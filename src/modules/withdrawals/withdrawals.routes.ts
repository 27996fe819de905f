import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { HttpError } from '../../http/http-error';
import { formatAmount, parseAmount } from '../ledger/amounts';
import type { WithdrawMethod } from './withdrawals.service';

const STATUS: Record<string, number> = { UNKNOWN_CURRENCY: 404, WITHDRAW_UNAVAILABLE: 404 };

const toHttp = (err: unknown): unknown =>
  err instanceof UserError ? new HttpError(STATUS[err.code] ?? 400, err.code.toLowerCase(), err.message) : err;

const decimal = z.string().trim().min(1).max(40);
const patchBody = z
  .object({
    enabled: z.boolean().optional(),
    min: decimal.optional(),
    max: decimal.optional(),
    approval_threshold: decimal.optional(),
    fee: decimal.optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'send at least one field' });

/** Wire shape: amounts as decimal strings in the currency's units. */
function methodJson(m: WithdrawMethod, decimals: number) {
  return {
    currency: m.currency,
    enabled: m.enabled,
    min: formatAmount(m.min_amount, decimals),
    max: formatAmount(m.max_amount, decimals),
    approvalThreshold: formatAmount(m.approval_threshold, decimals),
    fee: formatAmount(m.fee, decimals),
    pausedAt: m.paused_at?.toISOString() ?? null,
    pausedReason: m.paused_reason,
  };
}

/** `/admin/withdraw-methods`: per-currency withdrawal limits (registered inside the bearer-guarded /admin scope). */
export function withdrawalAdminRoutes(admin: FastifyInstance, ctx: AppContext): void {
  const { withdrawals, ledger } = ctx.services;
  const decimalsOf = (code: string) => ledger.currencies.get(code).decimals;

  admin.get('/withdraw-methods', async () => {
    const methods = await withdrawals.methods();
    return { items: methods.filter((m) => ledger.currencies.all.some((c) => c.code === m.currency)).map((m) => methodJson(m, decimalsOf(m.currency))) };
  });

  admin.patch<{ Params: { currency: string } }>('/withdraw-methods/:currency', async (req) => {
    const r = patchBody.safeParse(req.body ?? {});
    if (!r.success) throw new HttpError(400, 'invalid_body', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    try {
      const currency = ledger.currencies.get(req.params.currency);
      const amount = (v: string | undefined, zeroOk = false) =>
        v === undefined ? undefined : zeroOk && /^0*(\.0*)?$/.test(v) ? 0n : parseAmount(v, currency);
      const updated = await withdrawals.updateMethod(currency.code, {
        ...(r.data.enabled !== undefined ? { enabled: r.data.enabled } : {}),
        ...(r.data.min !== undefined ? { min: amount(r.data.min)! } : {}),
        ...(r.data.max !== undefined ? { max: amount(r.data.max)! } : {}),
        ...(r.data.approval_threshold !== undefined ? { approvalThreshold: amount(r.data.approval_threshold, true)! } : {}),
        ...(r.data.fee !== undefined ? { fee: amount(r.data.fee, true)! } : {}),
      });
      return methodJson(updated, currency.decimals);
    } catch (err) {
      throw toHttp(err);
    }
  });
}
