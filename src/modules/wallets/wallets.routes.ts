import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { HttpError } from '../../http/http-error';
import { renderLinkPage } from './link-page';

// How each UserError code reads over HTTP; anything unlisted is a plain 400.
const STATUS: Record<string, number> = {
  NONCE_UNKNOWN: 404,
  NONCE_USED: 410,
  NONCE_EXPIRED: 410,
  NONCE_SUPERSEDED: 410,
  ADDRESS_TAKEN: 409,
  RATE_LIMITED: 429,
};

const toHttp = (err: unknown): unknown =>
  err instanceof UserError ? new HttpError(STATUS[err.code] ?? 400, err.code.toLowerCase(), err.message) : err;

const messageQuery = z.object({ nonce: z.string().min(1).max(128), address: z.string().min(1).max(128) });
const verifyBody = z.object({
  nonce: z.string().min(1).max(128),
  address: z.string().min(1).max(128),
  signature: z.string().min(1).max(256),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const detail = r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(400, 'invalid_request', detail);
  }
  return r.data;
}

/** Headers for everything on the link flow: nothing cached, no nonce leaking through Referer, no framing. */
function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/**
 * The wallet-link page and its JSON API. Register with `createHttpServer({ plugins: [walletRoutes] })`.
 *  GET  /link/:nonce              HTML page (strict CSP, inline JS) that drives an injected wallet
 *  GET  /api/wallet/message       { message, expiresAt } — the exact text to sign, built by the server
 *  POST /api/wallet/verify        { nonce, address, signature } → { linked: true, address, discordId }
 */
export function walletRoutes(app: FastifyInstance, ctx: AppContext): void {
  const wallets = ctx.services.wallets;

  app.get<{ Params: { nonce: string } }>('/link/:nonce', async (req, reply) => {
    let page;
    try {
      const info = await wallets.linkInfo(req.params.nonce);
      page = renderLinkPage({ ok: true, nonce: req.params.nonce, discordUsername: info.discordUsername, expiresAt: info.expiresAt.toISOString() });
      reply.code(200);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      page = renderLinkPage({ ok: false, code: err.code, message: err.message });
      reply.code(STATUS[err.code] ?? 400);
    }
    return secure(reply).header('content-security-policy', page.csp).type('text/html; charset=utf-8').send(page.html);
  });

  app.get('/api/wallet/message', async (req, reply) => {
    const q = parse(messageQuery, req.query);
    try {
      const { message, expiresAt } = await wallets.messageFor(q.nonce, q.address);
      return secure(reply).send({ message, expiresAt: expiresAt.toISOString() });
    } catch (err) {
      throw toHttp(err);
    }
  });

  app.post('/api/wallet/verify', async (req, reply) => {
    const body = parse(verifyBody, req.body);
    try {
      const linked = await wallets.verify({ ...body, ip: req.ip });
      return secure(reply).send({ linked: true, address: linked.address, discordId: linked.discordId, verifiedAt: linked.verifiedAt.toISOString() });
    } catch (err) {
      throw toHttp(err);
    }
  });
}
