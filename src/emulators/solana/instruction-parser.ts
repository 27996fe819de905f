import { createHash } from 'node:crypto';
import bs58 from 'bs58';
import {
  ATA_PROGRAM,
  MEMO_PROGRAM,
  MEMO_V1_PROGRAM,
  SYSTEM_PROGRAM,
  TOKEN_2022_PROGRAM,
  TOKEN_PROGRAM,
  uiTokenAmount,
} from './account-codec';

export interface ResolvedInstruction {
  programId: string;
  accounts: string[];
  data: Uint8Array;
  stackHeight: number | null;
}

/**
 * jsonParsed form of one instruction, covering what the product sends and validates (system transfers, SPL
 * transfers, ATA creation, memos); anything else is returned "partially decoded", as a real node does for
 * programs it has no parser for.
 */
export function parseInstruction(ix: ResolvedInstruction): Record<string, unknown> {
  const parsed = parseKnown(ix);
  if (parsed) return { ...parsed, programId: ix.programId, stackHeight: ix.stackHeight };
  return { accounts: ix.accounts, data: bs58.encode(ix.data), programId: ix.programId, stackHeight: ix.stackHeight };
}

function parseKnown(ix: ResolvedInstruction): { program: string; parsed: unknown } | null {
  try {
    switch (ix.programId) {
      case SYSTEM_PROGRAM:
        return wrap('system', parseSystem(ix));
      case TOKEN_PROGRAM:
        return wrap('spl-token', parseToken(ix));
      case TOKEN_2022_PROGRAM:
        return wrap('spl-token-2022', parseToken(ix) ?? parseToken2022(ix) ?? parseTokenMetadata(ix));
      case ATA_PROGRAM:
        return wrap('spl-associated-token-account', parseAta(ix));
      case MEMO_PROGRAM:
      case MEMO_V1_PROGRAM:
        return { program: 'spl-memo', parsed: new TextDecoder('utf-8', { fatal: true }).decode(ix.data) };
      default:
        return null;
    }
  } catch {
    // Malformed data for a known program: real nodes fall back to the partially decoded form too.
    return null;
  }
}

function wrap(program: string, parsed: unknown): { program: string; parsed: unknown } | null {
  return parsed === null ? null : { program, parsed };
}

function dv(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

function acc(ix: ResolvedInstruction, i: number): string {
  const a = ix.accounts[i];
  if (a === undefined) throw new Error('missing account');
  return a;
}

function parseSystem(ix: ResolvedInstruction): unknown {
  if (ix.data.length < 4) return null;
  const v = dv(ix.data);
  const tag = v.getUint32(0, true);
  switch (tag) {
    case 0:
      return {
        type: 'createAccount',
        info: {
          source: acc(ix, 0),
          newAccount: acc(ix, 1),
          lamports: v.getBigUint64(4, true),
          space: v.getBigUint64(12, true),
          owner: bs58.encode(ix.data.subarray(20, 52)),
        },
      };
    case 1:
      return { type: 'assign', info: { account: acc(ix, 0), owner: bs58.encode(ix.data.subarray(4, 36)) } };
    case 2:
      return {
        type: 'transfer',
        info: { source: acc(ix, 0), destination: acc(ix, 1), lamports: v.getBigUint64(4, true) },
      };
    case 3: {
      // bincode: base, seed (u64 length + bytes), lamports, space, owner.
      const seedLen = Number(v.getBigUint64(36, true));
      const at = 44 + seedLen;
      return {
        type: 'createAccountWithSeed',
        info: {
          source: acc(ix, 0),
          newAccount: acc(ix, 1),
          base: bs58.encode(ix.data.subarray(4, 36)),
          seed: new TextDecoder('utf-8', { fatal: true }).decode(ix.data.subarray(44, at)),
          lamports: v.getBigUint64(at, true),
          space: v.getBigUint64(at + 8, true),
          owner: bs58.encode(ix.data.subarray(at + 16, at + 48)),
        },
      };
    }
    case 8:
      return { type: 'allocate', info: { account: acc(ix, 0), space: v.getBigUint64(4, true) } };
    default:
      return null;
  }
}

function optionalKey(data: Uint8Array, at: number): string | null {
  return data[at] === 1 ? bs58.encode(data.subarray(at + 1, at + 33)) : null;
}

function authorityInfo(ix: ResolvedInstruction, index: number, name: string): Record<string, unknown> {
  const signers = ix.accounts.slice(index + 1);
  return signers.length > 0 ? { [`multisig${name[0]!.toUpperCase()}${name.slice(1)}`]: acc(ix, index), signers } : { [name]: acc(ix, index) };
}

function parseToken(ix: ResolvedInstruction): unknown {
  const d = ix.data;
  if (d.length < 1) return null;
  const v = dv(d);
  switch (d[0]) {
    case 0:
    case 20: {
      const info: Record<string, unknown> = {
        mint: acc(ix, 0),
        decimals: d[1],
        mintAuthority: bs58.encode(d.subarray(2, 34)),
      };
      const freeze = optionalKey(d, 34);
      if (freeze) info.freezeAuthority = freeze;
      if (d[0] === 0) info.rentSysvar = acc(ix, 1);
      return { type: d[0] === 0 ? 'initializeMint' : 'initializeMint2', info };
    }
    case 1:
      return {
        type: 'initializeAccount',
        info: { account: acc(ix, 0), mint: acc(ix, 1), owner: acc(ix, 2), rentSysvar: acc(ix, 3) },
      };
    case 16:
    case 18:
      return {
        type: d[0] === 16 ? 'initializeAccount2' : 'initializeAccount3',
        info: { account: acc(ix, 0), mint: acc(ix, 1), owner: bs58.encode(d.subarray(1, 33)) },
      };
    case 3:
      return {
        type: 'transfer',
        info: {
          source: acc(ix, 0),
          destination: acc(ix, 1),
          amount: v.getBigUint64(1, true).toString(),
          ...authorityInfo(ix, 2, 'authority'),
        },
      };
    case 12:
      return {
        type: 'transferChecked',
        info: {
          source: acc(ix, 0),
          mint: acc(ix, 1),
          destination: acc(ix, 2),
          tokenAmount: uiTokenAmount(v.getBigUint64(1, true), d[9] ?? 0),
          ...authorityInfo(ix, 3, 'authority'),
        },
      };
    case 7:
      return {
        type: 'mintTo',
        info: {
          mint: acc(ix, 0),
          account: acc(ix, 1),
          amount: v.getBigUint64(1, true).toString(),
          ...authorityInfo(ix, 2, 'mintAuthority'),
        },
      };
    case 14:
      return {
        type: 'mintToChecked',
        info: {
          mint: acc(ix, 0),
          account: acc(ix, 1),
          tokenAmount: uiTokenAmount(v.getBigUint64(1, true), d[9] ?? 0),
          ...authorityInfo(ix, 2, 'mintAuthority'),
        },
      };
    case 8: {
      const mint = acc(ix, 1);
      return {
        type: 'burn',
        info: { account: acc(ix, 0), mint, amount: v.getBigUint64(1, true).toString(), ...authorityInfo(ix, 2, 'authority') },
      };
    }
    case 9:
      return {
        type: 'closeAccount',
        info: { account: acc(ix, 0), destination: acc(ix, 1), ...authorityInfo(ix, 2, 'owner') },
      };
    case 21:
      return { type: 'getAccountDataSize', info: { mint: acc(ix, 0) } };
    case 22:
      return { type: 'initializeImmutableOwner', info: { account: acc(ix, 0) } };
    default:
      return null;
  }
}

const AUTHORITY_TYPES = [
  'mintTokens', 'freezeAccount', 'accountOwner', 'closeAccount', 'transferFeeConfig', 'withheldWithdraw', 'closeMint',
  'interestRate', 'permanentDelegate', 'confidentialTransferMint', 'transferHookProgramId',
  'confidentialTransferFeeConfig', 'metadataPointer', 'groupPointer', 'groupMemberPointer', 'scaledUiAmountConfig', 'pause',
];
// Authority types that live on the mint; the rest on a token account (the node names the first account accordingly).
const MINT_AUTHORITY_TYPES = new Set([0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);

function zeroableKey(data: Uint8Array, at: number): string | null {
  const k = bs58.encode(data.subarray(at, at + 32));
  return k === '11111111111111111111111111111111' ? null : k;
}

/** Token-2022-only instructions (and ones the classic program shares but the product only sends to 2022). */
function parseToken2022(ix: ResolvedInstruction): unknown {
  const d = ix.data;
  const v = dv(d);
  switch (d[0]) {
    case 6: {
      const type = d[1] ?? 0;
      return {
        type: 'setAuthority',
        info: {
          [MINT_AUTHORITY_TYPES.has(type) ? 'mint' : 'account']: acc(ix, 0),
          authorityType: AUTHORITY_TYPES[type] ?? 'unknown',
          newAuthority: optionalKey(d, 2),
          ...authorityInfo(ix, 1, 'authority'),
        },
      };
    }
    case 10:
    case 11:
      return {
        type: d[0] === 10 ? 'freezeAccount' : 'thawAccount',
        info: { account: acc(ix, 0), mint: acc(ix, 1), ...authorityInfo(ix, 2, 'freezeAuthority') },
      };
    case 15:
      return {
        type: 'burnChecked',
        info: { account: acc(ix, 0), mint: acc(ix, 1), tokenAmount: uiTokenAmount(v.getBigUint64(1, true), d[9] ?? 0), ...authorityInfo(ix, 2, 'authority') },
      };
    case 25:
      return { type: 'initializeMintCloseAuthority', info: { mint: acc(ix, 0), newAuthority: optionalKey(d, 1) } };
    case 32:
      return { type: 'initializeNonTransferableMint', info: { mint: acc(ix, 0) } };
    case 35:
      return { type: 'initializePermanentDelegate', info: { mint: acc(ix, 0), delegate: bs58.encode(d.subarray(1, 33)) } };
    case 39:
      if (d[1] === 0) {
        return { type: 'initializeMetadataPointer', info: { mint: acc(ix, 0), authority: zeroableKey(d, 2), metadataAddress: zeroableKey(d, 34) } };
      }
      if (d[1] === 1) {
        return { type: 'updateMetadataPointer', info: { mint: acc(ix, 0), metadataAddress: zeroableKey(d, 2), ...authorityInfo(ix, 1, 'authority') } };
      }
      return null;
    default:
      return null;
  }
}

const metadataDiscriminator = (name: string) => createHash('sha256').update(`spl_token_metadata_interface:${name}`).digest().subarray(0, 8).toString('hex');
const TOKEN_METADATA_IX: Record<string, string> = {
  [metadataDiscriminator('initialize_account')]: 'initializeTokenMetadata',
  [metadataDiscriminator('updating_field')]: 'updateTokenMetadataField',
  [metadataDiscriminator('remove_key_ix')]: 'removeTokenMetadataKey',
  [metadataDiscriminator('update_the_authority')]: 'updateTokenMetadataUpdateAuthority',
  [metadataDiscriminator('emitter')]: 'emitTokenMetadata',
};

function borshStr(d: Uint8Array, at: number): [string, number] {
  const len = dv(d).getUint32(at, true);
  const end = at + 4 + len;
  if (end > d.length) throw new Error('string past end');
  return [new TextDecoder('utf-8', { fatal: true }).decode(d.subarray(at + 4, end)), end];
}

/** The token-metadata interface, served by Token-2022 itself for in-mint metadata (8-byte discriminators). */
function parseTokenMetadata(ix: ResolvedInstruction): unknown {
  const d = ix.data;
  if (d.length < 8) return null;
  const type = TOKEN_METADATA_IX[Buffer.from(d.subarray(0, 8)).toString('hex')];
  switch (type) {
    case 'initializeTokenMetadata': {
      const [name, a] = borshStr(d, 8);
      const [symbol, b] = borshStr(d, a);
      const [uri] = borshStr(d, b);
      return {
        type,
        info: { metadata: acc(ix, 0), updateAuthority: acc(ix, 1), mint: acc(ix, 2), mintAuthority: acc(ix, 3), name, symbol, uri },
      };
    }
    case 'updateTokenMetadataField': {
      const variant = d[8];
      let field: string;
      let at = 9;
      if (variant === 0) field = 'name';
      else if (variant === 1) field = 'symbol';
      else if (variant === 2) field = 'uri';
      else if (variant === 3) [field, at] = borshStr(d, 9);
      else return null;
      const [value] = borshStr(d, at);
      return { type, info: { metadata: acc(ix, 0), updateAuthority: acc(ix, 1), field, value } };
    }
    case 'removeTokenMetadataKey': {
      const idempotent = d[8] === 1;
      const [key] = borshStr(d, 9);
      return { type, info: { metadata: acc(ix, 0), updateAuthority: acc(ix, 1), key, idempotent } };
    }
    case 'updateTokenMetadataUpdateAuthority':
      return { type, info: { metadata: acc(ix, 0), updateAuthority: acc(ix, 1), newAuthority: zeroableKey(d, 8) } };
    default:
      return null;
  }
}

function parseAta(ix: ResolvedInstruction): unknown {
  const tag = ix.data.length === 0 ? 0 : ix.data[0];
  if (tag !== 0 && tag !== 1) return null;
  return {
    type: tag === 0 ? 'create' : 'createIdempotent',
    info: {
      source: acc(ix, 0),
      account: acc(ix, 1),
      wallet: acc(ix, 2),
      mint: acc(ix, 3),
      systemProgram: acc(ix, 4),
      tokenProgram: acc(ix, 5),
    },
  };
}

/** The `memo` column of getSignaturesForAddress: "[len] text" per memo, joined like a real node does. */
export function formatMemos(memos: string[]): string | null {
  if (memos.length === 0) return null;
  return memos.map((m) => `[${Buffer.byteLength(m)}] ${m}`).join('; ');
}
