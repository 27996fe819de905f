import type { IncomingMessage, ServerResponse } from 'node:http';
import { snowflake, type EmuFile } from '../discord-state';
import type { DiscordWorld } from '../discord-world';
import { parseMultipart } from '../multipart';

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    /** Protocol misuse by the bot (double ack, unknown interaction): fails the test. */
    readonly isFailure = false,
  ) {
    super(message);
  }
}

export interface ParsedBody {
  json: unknown;
  files: EmuFile[];
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  body: ParsedBody;
  path: string;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

/** One REST route as a resource-group file declares it. */
export interface RouteDef {
  method: string;
  /** Path under /api/v10, e.g. 'channels/:channelId/messages'; ':name' segments become `params.name`. */
  path: string;
  handler: RouteHandler;
  /** Default true: needs `Authorization: Bot <token>` (interaction callbacks and webhooks are token-in-path). */
  auth?: boolean;
}

interface Route extends RouteDef {
  segments: string[];
}

/**
 * Runs before every handler, in order; throwing a {@link DiscordApiError} answers the request instead. This is
 * the one place for cross-cutting REST rules (authorization today; validation, rate-limit headers and permission
 * checks belong here too).
 */
export type RouteGuard = (route: RouteDef, ctx: RouteContext) => void;

const API_PREFIX = '/api/v10/';

/**
 * The REST side of the emulator: a route table filled by the resource-group files, one request path
 * (parse body → match → guards → handler), and one error path that records every request and every
 * protocol failure in the world.
 */
export class RestRouter {
  private readonly routes: Route[] = [];
  private readonly guards: RouteGuard[];

  constructor(private readonly world: DiscordWorld) {
    this.guards = [(route, ctx) => this.authorize(route, ctx)];
  }

  /** Adds routes; the first route that matches a request wins, so list literal segments before ':params'. */
  register(defs: RouteDef[]): void {
    for (const def of defs) this.routes.push({ ...def, segments: def.path.split('/').filter(Boolean) });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const rawPath = url.pathname;
    let status = 500;
    let body: ParsedBody = { json: undefined, files: [] };
    try {
      body = await readBody(req);
      if (method === 'GET' && rawPath.startsWith('/attachments/')) {
        status = this.serveAttachment(rawPath, res);
        return;
      }
      if (!rawPath.startsWith(API_PREFIX)) throw new DiscordApiError(404, 0, '404: Not Found', true);
      const segments = rawPath.slice(API_PREFIX.length).split('/').filter(Boolean).map((s) => decodeURIComponent(s));
      const match = this.match(method, segments);
      if (!match) throw new DiscordApiError(404, 0, '404: Not Found', true);
      const ctx: RouteContext = { req, res, params: match.params, query: url.searchParams, body, path: rawPath };
      for (const guard of this.guards) guard(match.route, ctx);
      await match.route.handler(ctx);
      status = res.statusCode;
    } catch (err) {
      const apiErr = err instanceof DiscordApiError ? err : new DiscordApiError(500, 0, err instanceof Error ? err.message : String(err), true);
      status = apiErr.status;
      if (apiErr.isFailure) {
        this.world.failures.push({ method, path: rawPath, status, reason: apiErr.message });
      }
      if (!res.headersSent) sendJson(res, status, { message: apiErr.message, code: apiErr.code });
    } finally {
      this.world.requests.push({ method, path: rawPath, status, body: body.json, at: Date.now() });
    }
  }

  private authorize(route: RouteDef, { req }: RouteContext): void {
    if (route.auth !== false && req.headers.authorization !== `Bot ${this.world.token}`) {
      throw new DiscordApiError(401, 0, '401: Unauthorized', true);
    }
  }

  /** Files users attached to commands, as Discord's CDN serves them. */
  private serveAttachment(rawPath: string, res: ServerResponse): number {
    const file = this.world.uploads.get(rawPath.split('/')[2] ?? '');
    if (!file) throw new DiscordApiError(404, 0, '404: Not Found');
    res.writeHead(200, { 'content-type': file.contentType ?? 'application/octet-stream' }).end(file.data);
    return 200;
  }

  private match(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method || route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const want = route.segments[i] ?? '';
        const got = segments[i] ?? '';
        if (want.startsWith(':')) params[want.slice(1)] = got;
        else ok = want === got;
      }
      if (ok) return { route, params };
    }
    return undefined;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function noContent(res: ServerResponse): void {
  res.writeHead(204).end();
}

async function readBody(req: IncomingMessage): Promise<ParsedBody> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (raw.length === 0) return { json: undefined, files: [] };
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    const parts = parseMultipart(raw, type);
    const payload = parts.find((p) => p.name === 'payload_json');
    const files = parts
      .filter((p) => p.name.startsWith('files[') || p.filename !== undefined)
      .filter((p) => p.name !== 'payload_json')
      .map((p): EmuFile => ({ id: snowflake(), name: p.filename ?? p.name, contentType: p.contentType, data: p.data }));
    return { json: payload ? JSON.parse(payload.data.toString('utf8')) : {}, files };
  }
  try {
    return { json: JSON.parse(raw.toString('utf8')), files: [] };
  } catch {
    throw new DiscordApiError(400, 50109, 'The request body contains invalid JSON.', true);
  }
}
