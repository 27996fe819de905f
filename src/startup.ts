import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpListener, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import path from 'node:path';
import type { Config } from './config';
import { isAlive } from './db/embedded-postgres';

/** A start-up failure with its cause in words and the configuration key that changes it. */
export class StartupError extends Error {
  constructor(
    message: string,
    /** The environment key to change, when one does. */
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** Start-up was cancelled by a signal; whatever had started is stopped again. */
export class StartAborted extends Error {
  constructor() {
    super('start-up aborted');
    this.name = 'StartAborted';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StartAborted();
}

/** One line for the operator: what went wrong and what to change. */
export function explainStartFailure(err: unknown): string {
  if (err instanceof StartupError) return err.message;
  const e = err as (Error & { code?: string }) | undefined;
  if (e?.name === 'TreasuryKeyError') return `${e.message} — check TREASURY_SECRET_KEY / TREASURY_KEYPAIR_PATH`;
  if (e?.message?.startsWith('Postgres init script failed')) {
    return `the embedded PostgreSQL could not be initialised: ${e.message.trim()} — check PG_DATA_DIR (the postgres user must be able to reach and write it) or set DATABASE_URL`;
  }
  return `start failed: ${e?.message ?? String(err)}`;
}

function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createTcpServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** The parent pid of a live process (Linux /proc); undefined where that cannot be read. */
function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Before starting the embedded PostgreSQL: its data directory must not be in use by another running instance (a
 * postmaster whose parent still lives; one orphaned by a killed process is stopped by the start itself), and
 * PG_PORT must be free. Otherwise postgres fails deep inside its start with no hint of which setting to change.
 */
export async function checkEmbeddedPostgres(config: Pick<Config, 'PG_DATA_DIR' | 'PG_PORT'>): Promise<void> {
  const dataDir = path.resolve(config.PG_DATA_DIR);
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let orphan = false;
  if (existsSync(pidFile)) {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      const ppid = parentPid(pid);
      orphan = ppid === 1 || (ppid !== undefined && !isAlive(ppid));
      if (!orphan) {
        throw new StartupError(
          `PG_DATA_DIR ${config.PG_DATA_DIR} is in use by another running instance (postgres pid ${pid}) — set PG_DATA_DIR (and PG_PORT) or stop the other instance`,
          'PG_DATA_DIR',
        );
      }
    }
  }
  if (!orphan && (await portInUse(config.PG_PORT, '127.0.0.1'))) {
    throw new StartupError(`PG_PORT ${config.PG_PORT} is in use — set PG_PORT or stop the other instance`, 'PG_PORT');
  }
}

/** Redacts the password of a connection URL for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Turns the first database round trip's failure into what to change. */
export function databaseStartError(err: unknown, config: Pick<Config, 'DATABASE_URL' | 'PG_PORT'>): StartupError {
  const e = err as Error & { code?: string };
  const where = config.DATABASE_URL ? `DATABASE_URL ${redactUrl(config.DATABASE_URL)}` : `the embedded PostgreSQL on PG_PORT ${config.PG_PORT}`;
  const key = config.DATABASE_URL ? 'DATABASE_URL' : 'PG_PORT';
  const why =
    e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'ETIMEDOUT'
      ? `cannot reach the database server (${e.code})`
      : e.code === '28P01' || e.code === '28000'
        ? 'the database refused the credentials'
        : e.code === '3D000'
          ? 'the database does not exist'
          : `the database failed: ${e.message}`;
  return new StartupError(`${why} at ${where} — check ${key}`, key, { cause: err });
}

/**
 * Listens before anything else is built, so the base URL (PUBLIC_URL's default) is known when the context is made;
 * the HTTP app is attached to this server afterwards.
 */
export async function listenHttp(config: Pick<Config, 'HTTP_HOST' | 'HTTP_PORT'>): Promise<{ server: Server; url: string }> {
  const server = createHttpListener();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new StartupError(`HTTP_PORT ${config.HTTP_PORT} is in use — set HTTP_PORT or stop the other instance`, 'HTTP_PORT'));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(new StartupError(`HTTP_HOST ${config.HTTP_HOST} is not an address of this machine — set HTTP_HOST`, 'HTTP_HOST'));
      } else if (err.code === 'EACCES') {
        reject(new StartupError(`HTTP_PORT ${config.HTTP_PORT} needs privileges — set HTTP_PORT above 1023`, 'HTTP_PORT'));
      } else reject(err);
    });
    server.listen(config.HTTP_PORT, config.HTTP_HOST, () => resolve());
  });
  const address = server.address();
  const url = typeof address === 'object' && address ? `http://${config.HTTP_HOST}:${address.port}` : `http://${config.HTTP_HOST}`;
  return { server, url };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.closeIdleConnections();
    server.close(() => resolve());
  });
}
