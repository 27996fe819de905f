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
