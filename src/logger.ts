import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

/*
 * Secrets must never reach the logs even if a caller logs a whole config, request or error with a secret nested
 * somewhere inside. pino's `redact` paths match fixed depths only, so every log object (and every child logger's
 * bindings) is walked instead: values under secret-named keys are replaced at any depth, and credentials embedded
 * in strings (URL passwords, api-key query parameters) are masked wherever they appear.
 */

// Key names are compared in snake_case (camelCase and kebab-case folded), so `secretKey`, `SECRET_KEY` and
// `x-api-key` read alike. Anchored at the end: `LEDGER_TOKENS` (a list of currencies) is not a token.
const SECRET_KEY =
  /(^|_)(token|secret|password|passwd|pwd|secret_key|private_key|api_key|apikey|authorization|cookie|database_url|connection_string|credentials?)$/;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s/@]+@/gi;
const SECRET_QUERY = /([?&](?:api[-_]?key|apikey|token|access_token|key|password)=)[^&\s#"']+/gi;
const MAX_DEPTH = 12;

function isSecretKey(key: string): boolean {
  const snake = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
  return SECRET_KEY.test(snake);
}

function redactString(s: string): string {
  if (!s.includes('://') && !s.includes('=')) return s;
  return s.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(SECRET_QUERY, `$1${REDACTED}`);
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    // Errors keep pino's usual shape (type, message, stack, cause, own fields), redacted like everything else.
    if (value instanceof Error) return redactValue(pino.stdSerializers.err(value), depth + 1, seen);
    if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
    // Dates, Buffers and library objects with their own JSON form serialize as themselves.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      const json = (value as { toJSON: () => unknown }).toJSON();
      return typeof json === 'string' ? redactString(json) : json === value ? json : redactValue(json, depth + 1, seen);
    }
    if (value instanceof Map) return redactValue(Object.fromEntries(value), depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : redactValue(v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** A copy of `obj` with every secret replaced, at any depth. */
export function redactSecrets(obj: Record<string, unknown>): Record<string, unknown> {
  return redactValue(obj, 0, new WeakSet()) as Record<string, unknown>;
}

export function createLogger(level: string, name = 'solbound', file?: string | pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    formatters: { log: redactSecrets, bindings: redactSecrets },
    // The log formatter already turned errors into (redacted) plain objects: serializing again would lose `type`.
    serializers: { err: (err: unknown) => (err instanceof Error ? redactValue(err, 0, new WeakSet()) : err) },
    hooks: {
      // The message is not part of the log object: mask credentials in it too, including the message pino takes
      // from a lone Error argument.
      logMethod(args, method) {
        const [first, ...rest] = args as unknown[];
        const redacted = first instanceof Error && typeof rest[0] !== 'string' ? [{ err: first }, first.message, ...rest] : args;
        method.apply(this, redacted.map((a) => (typeof a === 'string' ? redactString(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  // The interactive sandbox console owns the terminal, so its logs go to a file instead.
  const destination = typeof file === 'string' ? pino.destination({ dest: file, mkdir: true, sync: false }) : file;
  const logger = destination ? pino(options, destination) : pino(options);
  // pino applies the bindings formatter to the root only; children inherit this `child`, so every level's bindings
  // are redacted too.
  type ChildFn = (this: unknown, bindings: pino.Bindings, options?: unknown) => unknown;
  const child = logger.child as unknown as ChildFn;
  const redactingChild: ChildFn = function (bindings, childOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  };
  logger.child = redactingChild as unknown as Logger['child'];
  return logger;
}
