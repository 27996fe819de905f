import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { statusOfUserError } from '../../http/error-status';
import { securePage, sendPage } from '../../http/wallet-page';
import { Currencies } from '../ledger/currencies';
import { renderCheckoutPage } from './checkout-page';
import { CheckoutService, FINAL_STATES, type CheckoutProgress } from './checkout.service';

/** How often an open status stream re-reads its invoice (one primary-key read). */
export const EVENTS_POLL_MS = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/**
 * Open status streams allowed per client address and in all: each holds a socket and polls the database every
 * EVENTS_POLL_MS until its invoice settles, so an unbounded number is a cheap way to exhaust both. A checkout page
 * opens one; a few tabs fit under the per-address cap. Beyond either cap the answer is 429 (JSON) and the page's
 * EventSource retries later.
 */
export const EVENTS_STREAMS_PER_CLIENT = 5;
export const EVENTS_STREAMS_TOTAL = 500;

// The reference is the page's key: any string is accepted here and an unknown one answered as not found.
const params = z.object({ reference: z.string().max(64).describe('the invoice\'s Solana Pay reference (base58)') });
const html = { schema: z.string() };
const progress = z.object({
  state: z.enum(['pending', 'partially_paid', 'paid', 'expired', 'canceled', 'refunded']),
  amount: z.string().describe('base units'),
  paid: z.string().describe('base units'),
  due: z.string().describe('base units'),
  paidText: z.string(),
  dueText: z.string(),
  expiresAt: z.string().describe('ISO 8601 timestamp'),
});

/**
 * The checkout page of an invoice and its API (module `billing`, on-chain payments):
 *  GET  /pay/:reference               HTML: summary, QR, "Pay with wallet" (Wallet Standard), live status
 *  GET  /pay/:reference/events        text/event-stream: `status` events (pending → partially_paid → paid | expired …)
 *  POST /pay/:reference/transaction   { account } → { transaction (base64, unsigned), message }
 * The reference (random, UNIQUE per invoice) is the only key: sequential invoice ids never appear in a URL.
 */
export function checkoutRoutes(app: FastifyInstance, ctx: AppContext): void {
  const checkout = new CheckoutService(ctx.db, ctx.services.chain, ctx.services.billing, Currencies.fromConfig(ctx.config), ctx.config);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const streams = new Set<ServerResponse>();
  // Slots are taken before the first await (so concurrent requests cannot all pass the check) and given back once.
  const perClient = new Map<string, number>();
  let reserved = 0;
  const reserve = (client: string): (() => void) => {
    const mine = perClient.get(client) ?? 0;
    if (mine >= EVENTS_STREAMS_PER_CLIENT)
      throw new UserError('RATE_LIMITED', `Too many open status streams from your address (at most ${EVENTS_STREAMS_PER_CLIENT}); close another checkout tab or try again later.`);
    if (reserved >= EVENTS_STREAMS_TOTAL) throw new UserError('RATE_LIMITED', 'Too many open status streams right now; try again in a minute.');
    perClient.set(client, mine + 1);
    reserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      reserved--;
      const n = (perClient.get(client) ?? 1) - 1;
      if (n > 0) perClient.set(client, n);
      else perClient.delete(client);
    };
  };
  // Open streams would otherwise hold the server's close until their invoice settles.
  app.addHook('onClose', async () => {
    for (const res of streams) res.end();
  });

  api.get(
    '/pay/:reference',
    {
      schema: {
        summary: 'The checkout page of an invoice (HTML); an unknown reference gets the error page with its status',
        params,
        response: { 200: { content: { 'text/html': html } }, '4xx': { content: { 'text/html': html } } },
      },
    },
    async (req, reply) => {
      let page;
      try {
        page = renderCheckoutPage({ ok: true, ...(await checkout.view(req.params.reference)) });
        reply.code(200);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        page = renderCheckoutPage({ ok: false, code: err.code, message: err.message });
        reply.code(statusOfUserError(err.code));
      }
      return sendPage(reply, page);
    },
  );

  api.get(
    '/pay/:reference/events',
    {
      schema: {
        summary: "The invoice's live status as Server-Sent Events: a `status` event (data: JSON) now and at each change; ends at paid, expired, canceled or refunded",
        params,
        response: { 200: { description: `event: status, data: ${JSON.stringify(z.toJSONSchema(progress))}`, content: { 'text/event-stream': { schema: z.string() } } } },
      },
    },
    async (req, reply) => {
      const release = reserve(req.ip);
      let id: bigint;
      let first: CheckoutProgress | undefined;
      try {
        id = await checkout.idOf(req.params.reference);
        first = await checkout.progress(id);
      } catch (err) {
        release();
        throw err;
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-content-type-options': 'nosniff',
      });
      streams.add(res);
      let last = '';
      let poll: NodeJS.Timeout | undefined;
      let stopHeartbeat = () => {};
      const end = () => {
        clearTimeout(poll);
        stopHeartbeat();
        streams.delete(res);
        release();
        if (!res.writableEnded) res.end();
      };
      const send = (p: CheckoutProgress | undefined): boolean => {
        if (!p) return false;
        const data = JSON.stringify(p);
        if (data !== last) {
          last = data;
          res.write(`event: status\ndata: ${data}\n\n`);
        }
        return !FINAL_STATES.includes(p.state);
      };
      req.raw.on('close', end);
      res.write(`retry: 3000\n\n`);
      if (!send(first)) return end();
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      stopHeartbeat = () => clearInterval(heartbeat);
      const tick = async () => {
        try {
          if (!send(await checkout.progress(id))) return end();
        } catch (err) {
          ctx.log.warn({ err, invoiceId: id }, 'checkout status poll failed; the browser reconnects');
          return end();
        }
        if (!res.writableEnded) poll = setTimeout(() => void tick(), EVENTS_POLL_MS);
      };
      poll = setTimeout(() => void tick(), EVENTS_POLL_MS);
    },
  );

  api.post(
    '/pay/:reference/transaction',
    {
      schema: {
        summary: 'An unsigned transfer of what is still due, from the given wallet account, carrying the invoice reference (Solana Pay transaction request)',
        params,
        body: z.object({ account: z.string().min(1).max(64).describe('base58 address of the paying wallet') }),
        response: { 200: z.object({ transaction: z.string().describe('base64 wire bytes, unsigned'), message: z.string() }) },
      },
    },
    async (req, reply) => {
      securePage(reply);
      return checkout.transaction(req.params.reference, req.body.account);
    },
  );
}
