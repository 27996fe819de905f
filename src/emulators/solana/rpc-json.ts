// JSON-RPC wire helpers. u64 values (lamports, slots) must reach clients as JSON numbers, not strings, and
// JSON.stringify cannot print a bigint, so bigints are tagged in the replacer and spliced back as raw digits.
const BIG_TAG = '__emu_bigint__';
const BIG_RE = new RegExp(`"${BIG_TAG}(-?\\d+)"`, 'g');

export function stringifyRpc(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${BIG_TAG}${v.toString()}` : v));
  return text.replace(BIG_RE, '$1');
}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_PARSE_ERROR = -32700;
export const RPC_SEND_TX_PREFLIGHT_FAILURE = -32002;
export const RPC_UNSUPPORTED_TX_VERSION = -32015;

export function invalidParams(message: string): RpcError {
  return new RpcError(RPC_INVALID_PARAMS, `Invalid params: ${message}`);
}

export interface JsonRpcRequest {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

export type RpcHandler = (params: unknown[]) => unknown;

/**
 * Runs one JSON-RPC request against `handlers` (HTTP methods or one socket's pubsub methods). Unknown methods and
 * emulator exceptions are answered like a node would and also pushed to `failures`, so tests notice the gap.
 */
export function dispatchRpc(req: JsonRpcRequest, handlers: Record<string, RpcHandler>, failures: string[]): Record<string, unknown> {
  const id = req?.id ?? null;
  if (!req || typeof req !== 'object' || typeof req.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: RPC_INVALID_REQUEST, message: 'Invalid request' } };
  }
  const handler = Object.hasOwn(handlers, req.method) ? handlers[req.method] : undefined;
  if (!handler) {
    failures.push(`unknown RPC method: ${req.method}`);
    return { jsonrpc: '2.0', id, error: { code: RPC_METHOD_NOT_FOUND, message: 'Method not found' } };
  }
  const params = Array.isArray(req.params) ? req.params : req.params === undefined || req.params === null ? [] : [req.params];
  try {
    return { jsonrpc: '2.0', id, result: handler(params) };
  } catch (e) {
    if (e instanceof RpcError) {
      return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } };
    }
    // An exception here is an emulator bug, not a client mistake: make it fail the test.
    failures.push(`internal error in ${req.method}: ${(e as Error).stack ?? String(e)}`);
    return { jsonrpc: '2.0', id, error: { code: -32603, message: `Internal error: ${(e as Error).message}` } };
  }
}
