import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { formatAmount, parseAmount } from '../ledger/amounts';
import type { WithdrawMethod } from './withdrawals.service';

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

const amountJson = z.string().describe('decimal, in currency units');
const methodSchema = z
  .object({
    currency: z.string(),
    enabled: z.boolean(),
    min: amountJson,
    max: amountJson,
    approvalThreshold: amountJson,
    fee: amountJson,
    pausedAt: z.string().nullable(),
    pausedReason: z.string().nullable(),
  })
  .meta({ id: 'WithdrawMethod' });

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
  const api = admin.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/withdraw-methods',
    { schema: { summary: 'Withdrawal limits per currency', response: { 200: z.object({ items: z.array(methodSchema) }) } } },
    async () => {
      const methods = await withdrawals.methods();
      return { items: methods.filter((m) => ledger.currencies.all.some((c) => c.code === m.currency)).map((m) => methodJson(m, decimalsOf(m.currency))) };
    },
  );

  api.patch(
    '/withdraw-methods/:currency',
    {
      schema: {
        summary: "Change a currency's withdrawal limits",
        params: z.object({ currency: z.string().describe('currency code, case-insensitive') }),
        body: patchBody,
        response: { 200: methodSchema },
      },
    },
    async (req) => {
      const { body } = req;
      const currency = ledger.currencies.get(req.params.currency);
      const amount = (v: string | undefined, zeroOk = false) =>
        v === undefined ? undefined : zeroOk && /^0*(\.0*)?$/.test(v) ? 0n : parseAmount(v, currency);
      const updated = await withdrawals.updateMethod(currency.code, {
        ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
        ...(body.min !== undefined ? { min: amount(body.min)! } : {}),
        ...(body.max !== undefined ? { max: amount(body.max)! } : {}),
        ...(body.approval_threshold !== undefined ? { approvalThreshold: amount(body.approval_threshold, true)! } : {}),
        ...(body.fee !== undefined ? { fee: amount(body.fee, true)! } : {}),
      });
      return methodJson(updated, currency.decimals);
    },
  );
}
