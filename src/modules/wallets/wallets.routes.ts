import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../app-context';
import { UserError } from '../../errors';
import { errorBody, statusOfUserError } from '../../http/error-status';
import { securePage, sendPage } from '../../http/wallet-page';
import { renderLinkPage } from './link-page';

const nonce = z.string().min(1).max(128);
const address = z.string().min(1).max(128).describe('base58 Solana address');
const messageQuery = z.object({ nonce, address });
const verifyBody = z.object({ nonce, address, signature: z.string().min(1).max(256).describe('base58 or base64 Ed25519 signature') });
const html = { schema: z.string() };
const iso = z.string().describe('ISO 8601 timestamp');

// The link page's script reads one code for any malformed request.
const config = { invalidRequestCode: 'invalid_request' };

/**
 * The wallet-link page and its JSON API. Register with `createHttpServer({ plugins: [walletRoutes] })`.
 *  GET  /link/:nonce              HTML page (strict CSP, inline JS) that drives an injected wallet
 *  GET  /api/wallet/message       { message, expiresAt } — the exact text to sign, built by the server
 *  POST /api/wallet/verify        { nonce, address, signature } → { linked: true, address, discordId }
 */
export function walletRoutes(app: FastifyInstance, ctx: AppContext): void {
  const wallets = ctx.services.wallets;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/link/:nonce',
    {
      schema: {
        summary: 'The wallet-link page (HTML); an unknown, used or expired nonce gets the error page with its status',
        // Any string: a bad nonce is answered by the HTML error page, not a JSON 400.
        params: z.object({ nonce: z.string() }),
        response: { 200: { content: { 'text/html': html } }, '4xx': { content: { 'text/html': html, 'application/json': { schema: errorBody } } } },
      },
    },
    async (req, reply) => {
      let page;
      try {
        const info = await wallets.linkInfo(req.params.nonce);
        page = renderLinkPage({ ok: true, nonce: req.params.nonce, discordUsername: info.discordUsername, expiresAt: info.expiresAt.toISOString() });
        reply.code(200);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        page = renderLinkPage({ ok: false, code: err.code, message: err.message });
        reply.code(statusOfUserError(err.code));
      }
      return sendPage(reply, page);
    },
  );

  api.get(
    '/api/wallet/message',
    {
      config,
      schema: {
        summary: 'The exact text to sign for this nonce and address',
        querystring: messageQuery,
        response: { 200: z.object({ message: z.string(), expiresAt: iso }) },
      },
    },
    async (req, reply) => {
      // Set first so that error replies carry them too.
      securePage(reply);
      const { message, expiresAt } = await wallets.messageFor(req.query.nonce, req.query.address);
      return { message, expiresAt: expiresAt.toISOString() };
    },
  );

  api.post(
    '/api/wallet/verify',
    {
      config,
      schema: {
        summary: 'Link the wallet: a signature over the server-built message',
        body: verifyBody,
        response: { 200: z.object({ linked: z.literal(true), address: z.string(), discordId: z.string(), verifiedAt: iso }) },
      },
    },
    async (req, reply) => {
      securePage(reply);
      const linked = await wallets.verify({ ...req.body, ip: req.ip });
      return { linked: true as const, address: linked.address, discordId: linked.discordId, verifiedAt: linked.verifiedAt.toISOString() };
    },
  );
}
