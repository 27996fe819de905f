import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { snowflake, type EmuFile } from '../discord-state';
import type { DiscordWorld } from '../discord-world';
import { parseMultipart } from '../multipart';
import { checkLimits, type PayloadKind } from './limits';
import { checkBotPermissions, type RoutePermissions } from './permissions';
import { RateLimiter, sendRateLimited, type RateLimitOptions } from './rate-limits';
import type { DiscordSpec } from './spec-conformance';

export class DiscordApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    /** Protocol misuse by the bot (double ack, unknown interaction): fails the test. */
    readonly isFailure = false,
    /** Discord's nested field errors (50035 Invalid Form Body). */
    readonly errors?: Record<string, unknown>,
    /** What the failure record says when it is more than the message (e.g. which schema rule was broken). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Discord's answer to a body that breaks a documented limit or the request schema. */
export function invalidFormBody(errors: Record<string, unknown> | undefined, opts: { isFailure?: boolean; detail?: string } = {}): DiscordApiError {
  return new DiscordApiError(400, 50035, 'Invalid Form Body', opts.isFailure ?? false, errors, opts.detail);
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
  /**
   * performance.now() when the request arrived, before parsing and checks: deadlines are judged on it, so the
   * emulator's own work (e.g. compiling a spec validator on first use) never counts against the bot.
   */
  receivedAt: number;
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
  /** What the JSON body is, for the documented limits (see limits.ts); routes without one carry no checked payload. */
  payload?: PayloadKind;
  /** The bot's permissions the route needs in its channel or guild (see permissions.ts); viewing is always checked. */
  permissions?: RoutePermissions;
}

interface Route extends RouteDef {
  segments: string[];
}

/**
 * Runs before every handler, in order; throwing a {@link DiscordApiError} answers the request instead. This is
 * the one place for cross-cutting REST rules (authorization, documented limits, the spec's request schemas, the bot's
 * permissions; rate-limit headers belong here too).
 */
export type RouteGuard = (route: RouteDef, ctx: RouteContext) => void;

export interface RestRouterOptions {
  /** Validate request and response bodies against Discord's OpenAPI description; violations are failures. */
  spec?: DiscordSpec | undefined;
  /** Discord's per-route and global rate limits (off by default so tests that do not test pacing run at full speed). */
  rateLimits?: RateLimitOptions | undefined;
}

/** How much traffic the spec check saw: reported at the end of a test run. */
export interface ConformanceStats {
  /** Request bodies validated (every request is also mapped to a spec operation; an unmapped one is a violation). */
  requests: number;
  responses: number;
  violations: number;
}

const API_PREFIX = '/api/v10/';

/**
 * The REST side of the emulator: a route table filled by the resource-group files, one request path
 * (parse body → match → guards → handler), and one error path that records every request and every
 * protocol failure in the world.
 */
export class RestRouter {
  private readonly routes: Route[] = [];
  private readonly guards: RouteGuard[];
  private readonly spec: DiscordSpec | undefined;
  private readonly limiter: RateLimiter | undefined;
  readonly conformance: ConformanceStats = { requests: 0, responses: 0, violations: 0 };

  constructor(
    private readonly world: DiscordWorld,
    options: RestRouterOptions = {},
  ) {
    this.spec = options.spec;
    this.limiter = options.rateLimits ? new RateLimiter(options.rateLimits) : undefined;
    this.guards = [
      (route, ctx) => this.authorize(route, ctx),
      (route, ctx) => this.rateLimit(route, ctx),
      // Limits before the schema: a body over a documented limit is an ordinary Discord answer the bot must handle,
      // while other schema violations are emulator failures.
      (route, ctx) => this.enforceLimits(route, ctx),
      (route, ctx) => this.checkRequestSchema(route, ctx),
      // After the body checks, as Discord validates the form before it looks at permissions.
      (route, ctx) => checkBotPermissions(this.world, route, ctx),
    ];
  }

  /** Adds routes; the first route that matches a request wins, so list literal segments before ':params'. */
  register(defs: RouteDef[]): void {
    for (const def of defs) this.routes.push({ ...def, segments: def.path.split('/').filter(Boolean) });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const rawPath = url.pathname;
    const receivedAt = performance.now();
    let status = 500;
    let body: ParsedBody = { json: undefined, files: [] };
    try {
      body = await readBody(req);
      if (method === 'GET' && rawPath.startsWith('/attachments/')) {
        status = this.serveAttachment(rawPath, res);
        return;
      }
      if (!rawPath.startsWith(API_PREFIX)) throw new DiscordApiError(404, 0, '404: Not Found', true);
      const segments = apiSegments(rawPath);
      const match = this.match(method, segments);
      if (!match) throw new DiscordApiError(404, 0, '404: Not Found', true);
      const ctx: RouteContext = { req, res, params: match.params, query: url.searchParams, body, path: rawPath, receivedAt };
      for (const guard of this.guards) guard(match.route, ctx);
      await match.route.handler(ctx);
      status = res.statusCode;
    } catch (err) {
      const apiErr = err instanceof DiscordApiError ? err : new DiscordApiError(500, 0, err instanceof Error ? err.message : String(err), true);
      status = apiErr.status;
      if (apiErr.isFailure) {
        this.world.failures.push({ method, path: rawPath, status, reason: apiErr.detail ?? apiErr.message });
      }
      if (!res.headersSent) sendJson(res, status, { message: apiErr.message, code: apiErr.code, ...(apiErr.errors ? { errors: apiErr.errors } : {}) });
    } finally {
      this.world.requests.push({ method, path: rawPath, status, body: body.json, at: Date.now() });
      this.checkResponseSchema(method, rawPath, res);
    }
  }

  private authorize(route: RouteDef, { req }: RouteContext): void {
    if (route.auth !== false && req.headers.authorization !== `Bot ${this.world.token}`) {
      throw new DiscordApiError(401, 0, '401: Unauthorized', true);
    }
  }

  /** Rate-limit headers on every counted request; over a limit, Discord's 429 instead of the handler. */
  private rateLimit(route: RouteDef, { res, params }: RouteContext): void {
    const verdict = this.limiter?.check(route, params);
    if (!verdict) return;
    if (verdict.limited) {
      sendJson(res, 429, sendRateLimited(res, { ...verdict, limited: verdict.limited }));
      throw new DiscordApiError(429, 0, 'You are being rate limited.');
    }
    for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
  }

  private enforceLimits(route: RouteDef, { body }: RouteContext): void {
    if (!route.payload) return;
    const errors = checkLimits(route.payload, body.json);
    if (errors) throw invalidFormBody(errors);
  }

  private checkRequestSchema(_route: RouteDef, { req, path, body }: RouteContext): void {
    if (!this.spec) return;
    const op = this.spec.operation(req.method ?? 'GET', apiSegments(path));
    if (!op) {
      this.violation(req.method ?? 'GET', path, 0, `no operation in Discord's OpenAPI spec for ${req.method} ${path}`);
      return;
    }
    if (op.hasJsonBody && body.json !== undefined) this.conformance.requests++;
    const violation = this.spec.checkRequest(op, body.json);
    if (violation) {
      this.conformance.violations++;
      throw invalidFormBody(undefined, { isFailure: true, detail: `spec: ${violation}` });
    }
  }

  /** The JSON a handler (or the error path) sent, against the spec's schema for that status. */
  private checkResponseSchema(method: string, path: string, res: ServerResponse): void {
    const sent = sentJson.get(res);
    if (!this.spec || sent === undefined || !path.startsWith(API_PREFIX)) return;
    const op = this.spec.operation(method, apiSegments(path));
    if (!op) return;
    this.conformance.responses++;
    const violation = this.spec.checkResponse(op, res.statusCode, sent);
    if (violation) this.violation(method, path, res.statusCode, `spec: ${violation}`);
  }

  private violation(method: string, path: string, status: number, reason: string): void {
    this.conformance.violations++;
    this.world.failures.push({ method, path, status, reason });
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

/** The last JSON body sent on each response, for the spec check after the handler. */
const sentJson = new WeakMap<ServerResponse, unknown>();

function apiSegments(path: string): string[] {
  return path.slice(API_PREFIX.length).split('/').filter(Boolean).map((s) => decodeURIComponent(s));
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  sentJson.set(res, JSON.parse(text) as unknown);
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
