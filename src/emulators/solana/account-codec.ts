import bs58 from 'bs58';

export const SYSTEM_PROGRAM = '11111111111111111111111111111111';
export const TOKEN_PROGRAM = 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA';
export const TOKEN_2022_PROGRAM = 'TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb';
export const ATA_PROGRAM = 'ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL';
export const MEMO_PROGRAM = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';
export const MEMO_V1_PROGRAM = 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo';
export const COMPUTE_BUDGET_PROGRAM = 'ComputeBudget111111111111111111111111111111';

export const RENT_EPOCH_MAX = 18446744073709551615n;

const TOKEN_ACCOUNT_LEN = 165;
const MINT_LEN = 82;

/** An account as the emulator serves it; `owner` is the base58 program address. */
export interface RawAccount {
  lamports: bigint;
  data: Uint8Array;
  owner: string;
  executable: boolean;
}

export interface TokenAccountState {
  mint: string;
  owner: string;
  amount: bigint;
  delegate: string | null;
  state: 'uninitialized' | 'initialized' | 'frozen';
  isNative: bigint | null;
  delegatedAmount: bigint;
  closeAuthority: string | null;
}

export interface MintState {
  mintAuthority: string | null;
  supply: bigint;
  decimals: number;
  isInitialized: boolean;
  freezeAuthority: string | null;
}

export function isTokenProgram(owner: string): boolean {
  return owner === TOKEN_PROGRAM || owner === TOKEN_2022_PROGRAM;
}

function view(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

function key(data: Uint8Array, at: number): string {
  return bs58.encode(data.subarray(at, at + 32));
}

// Token-2022 pads extended mints to the token-account length and stores the account type right after it.
function tokenKind(account: RawAccount): 'account' | 'mint' | null {
  if (!isTokenProgram(account.owner)) return null;
  const len = account.data.length;
  if (len === MINT_LEN) return 'mint';
  if (len === TOKEN_ACCOUNT_LEN) return 'account';
  if (account.owner === TOKEN_2022_PROGRAM && len > TOKEN_ACCOUNT_LEN) {
    const type = account.data[TOKEN_ACCOUNT_LEN];
    if (type === 1) return 'mint';
    if (type === 2) return 'account';
  }
  return null;
}

export function decodeTokenAccount(account: RawAccount): TokenAccountState | null {
  if (tokenKind(account) !== 'account') return null;
  const d = account.data;
  const v = view(d);
  const stateByte = d[108];
  const state = stateByte === 1 ? 'initialized' : stateByte === 2 ? 'frozen' : 'uninitialized';
  if (state === 'uninitialized') return null;
  return {
    mint: key(d, 0),
    owner: key(d, 32),
    amount: v.getBigUint64(64, true),
    delegate: v.getUint32(72, true) === 1 ? key(d, 76) : null,
    state,
    isNative: v.getUint32(109, true) === 1 ? v.getBigUint64(113, true) : null,
    delegatedAmount: v.getBigUint64(121, true),
    closeAuthority: v.getUint32(129, true) === 1 ? key(d, 133) : null,
  };
}

export function decodeMint(account: RawAccount): MintState | null {
  if (tokenKind(account) !== 'mint') return null;
  const d = account.data;
  const v = view(d);
  if (d[45] !== 1) return null;
  return {
    mintAuthority: v.getUint32(0, true) === 1 ? key(d, 4) : null,
    supply: v.getBigUint64(36, true),
    decimals: d[44] ?? 0,
    isInitialized: true,
    freezeAuthority: v.getUint32(46, true) === 1 ? key(d, 50) : null,
  };
}

const EXTENSION_NAMES: Record<number, string> = {
  1: 'transferFeeConfig', 2: 'transferFeeAmount', 3: 'mintCloseAuthority', 4: 'confidentialTransferMint',
  5: 'confidentialTransferAccount', 6: 'defaultAccountState', 7: 'immutableOwner', 8: 'memoTransfer',
  9: 'nonTransferable', 10: 'interestBearingConfig', 11: 'cpiGuard', 12: 'permanentDelegate',
  13: 'nonTransferableAccount', 14: 'transferHook', 15: 'transferHookAccount', 18: 'metadataPointer',
  19: 'tokenMetadata', 20: 'groupPointer', 21: 'tokenGroup', 22: 'groupMemberPointer', 23: 'tokenGroupMember',
};

const ZERO_KEY = '11111111111111111111111111111111';

// OptionalNonZeroPubkey: all zeroes means "none", which a node renders as null.
function optionalKey(d: Uint8Array, at: number): string | null {
  const k = key(d, at);
  return k === ZERO_KEY ? null : k;
}

function borshString(d: Uint8Array, at: number): [string, number] {
  const len = view(d).getUint32(at, true);
  const end = at + 4 + len;
  if (end > d.length) throw new Error('string past end of extension');
  return [new TextDecoder().decode(d.subarray(at + 4, end)), end];
}

// Rendered the way a node's jsonParsed does (camelCase state objects); unknown layouts get the name only.
function extensionState(type: number, d: Uint8Array): Record<string, unknown> | undefined {
  switch (type) {
    case 3:
      return { closeAuthority: optionalKey(d, 0) };
    case 12:
      return { delegate: optionalKey(d, 0) };
    case 18:
      return { authority: optionalKey(d, 0), metadataAddress: optionalKey(d, 32) };
    case 19: {
      const updateAuthority = optionalKey(d, 0);
      const mint = key(d, 32);
      const [name, a] = borshString(d, 64);
      const [symbol, b] = borshString(d, a);
      const [uri, c] = borshString(d, b);
      let at = c;
      const count = view(d).getUint32(at, true);
      at += 4;
      const additionalMetadata: [string, string][] = [];
      for (let i = 0; i < count; i++) {
        let k: string, v: string;
        [k, at] = borshString(d, at);
        [v, at] = borshString(d, at);
        additionalMetadata.push([k, v]);
      }
      return { updateAuthority, mint, name, symbol, uri, additionalMetadata };
    }
    default:
      return undefined;
  }
}

function extensionList(account: RawAccount): { extension: string; state?: Record<string, unknown> }[] | undefined {
  if (account.owner !== TOKEN_2022_PROGRAM || account.data.length <= TOKEN_ACCOUNT_LEN + 1) return undefined;
  const d = account.data;
  const v = view(d);
  const out: { extension: string; state?: Record<string, unknown> }[] = [];
  let at = TOKEN_ACCOUNT_LEN + 1;
  while (at + 4 <= d.length) {
    const type = v.getUint16(at, true);
    const len = v.getUint16(at + 2, true);
    if (type === 0) break;
    const name = EXTENSION_NAMES[type];
    let state: Record<string, unknown> | undefined;
    try {
      state = extensionState(type, d.subarray(at + 4, at + 4 + len));
    } catch {
      out.push({ extension: 'unparseableExtension' });
      at += 4 + len;
      continue;
    }
    out.push(name === undefined ? { extension: 'unparseableExtension' } : { extension: name, ...(state ? { state } : {}) });
    at += 4 + len;
  }
  return out;
}

/** Decoded extension state of a Token-2022 mint or account, by extension name (tests and jsonParsed alike). */
export function tokenExtensions(account: RawAccount): Map<string, Record<string, unknown> | undefined> {
  return new Map((extensionList(account) ?? []).map((e) => [e.extension, e.state]));
}

export function formatUiAmount(amount: bigint, decimals: number): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const base = 10n ** BigInt(decimals);
  const whole = abs / base;
  const frac = (abs % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole.toString()}${frac ? `.${frac}` : ''}`;
}

export function uiTokenAmount(amount: bigint, decimals: number) {
  const uiAmountString = formatUiAmount(amount, decimals);
  return { amount: amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString };
}

function tokenProgramName(owner: string): string {
  return owner === TOKEN_2022_PROGRAM ? 'spl-token-2022' : 'spl-token';
}

/**
 * jsonParsed view of token accounts and mints; null when the account is not one, so the caller falls back
 * to base64 exactly like a real node does.
 */
export function parseAccountData(account: RawAccount, mintDecimals: (mint: string) => number | null): unknown {
  const kind = tokenKind(account);
  if (kind === 'account') {
    const state = decodeTokenAccount(account);
    if (!state) return null;
    const decimals = mintDecimals(state.mint) ?? 0;
    const info: Record<string, unknown> = {
      isNative: state.isNative !== null,
      mint: state.mint,
      owner: state.owner,
      state: state.state,
      tokenAmount: uiTokenAmount(state.amount, decimals),
    };
    if (state.delegate) {
      info.delegate = state.delegate;
      info.delegatedAmount = uiTokenAmount(state.delegatedAmount, decimals);
    }
    if (state.isNative !== null) info.rentExemptReserve = uiTokenAmount(state.isNative, decimals);
    if (state.closeAuthority) info.closeAuthority = state.closeAuthority;
    const extensions = extensionList(account);
    if (extensions) info.extensions = extensions;
    return { program: tokenProgramName(account.owner), parsed: { info, type: 'account' }, space: account.data.length };
  }
  if (kind === 'mint') {
    const mint = decodeMint(account);
    if (!mint) return null;
    const info: Record<string, unknown> = {
      decimals: mint.decimals,
      freezeAuthority: mint.freezeAuthority,
      isInitialized: mint.isInitialized,
      mintAuthority: mint.mintAuthority,
      supply: mint.supply.toString(),
    };
    const extensions = extensionList(account);
    if (extensions) info.extensions = extensions;
    return { program: tokenProgramName(account.owner), parsed: { info, type: 'mint' }, space: account.data.length };
  }
  return null;
}

export type AccountEncoding = 'base58' | 'base64' | 'jsonParsed' | 'base64+zstd';

export function encodeAccount(
  account: RawAccount,
  encoding: AccountEncoding,
  mintDecimals: (mint: string) => number | null,
  dataSlice?: { offset: number; length: number },
): Record<string, unknown> {
  let data: unknown;
  const sliced = dataSlice ? account.data.subarray(dataSlice.offset, dataSlice.offset + dataSlice.length) : account.data;
  if (encoding === 'jsonParsed') {
    data = parseAccountData(account, mintDecimals) ?? [Buffer.from(sliced).toString('base64'), 'base64'];
  } else if (encoding === 'base58') {
    data = [bs58.encode(sliced), 'base58'];
  } else {
    data = [Buffer.from(sliced).toString('base64'), 'base64'];
  }
  return {
    data,
    executable: account.executable,
    lamports: account.lamports,
    owner: account.owner,
    rentEpoch: RENT_EPOCH_MAX,
    space: account.data.length,
  };
}
