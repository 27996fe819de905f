import bs58 from 'bs58';
import { parseInstruction } from './instruction-parser';
import type { TxRecord } from './ledger-state';
import { invalidParams } from './rpc-json';

/** A stored transaction in the shape getTransaction returns for `encoding` (base64, base58, json, jsonParsed). */
export function encodeTransaction(record: TxRecord, encoding: string): unknown {
  if (encoding === 'base64') return [Buffer.from(record.wire).toString('base64'), 'base64'];
  if (encoding === 'base58') return [bs58.encode(record.wire), 'base58'];
  if (encoding !== 'json' && encoding !== 'jsonParsed') throw invalidParams(`unsupported encoding ${encoding}`);
  const m = record.message;
  const lookups = record.version === 0 ? { addressTableLookups: [] } : {};
  if (encoding === 'json') {
    return {
      signatures: record.signatures,
      message: {
        accountKeys: record.accountKeys,
        header: {
          numRequiredSignatures: m.header.numSignerAccounts,
          numReadonlySignedAccounts: m.header.numReadonlySignerAccounts,
          numReadonlyUnsignedAccounts: m.header.numReadonlyNonSignerAccounts,
        },
        recentBlockhash: m.lifetimeToken,
        instructions: record.instructions.map((ix) => ({
          programIdIndex: ix.programIdIndex,
          accounts: ix.accountIndices,
          data: bs58.encode(ix.data),
          stackHeight: null,
        })),
        ...lookups,
      },
    };
  }
  return {
    signatures: record.signatures,
    message: {
      accountKeys: record.accountKeys.map((k, i) => ({
        pubkey: k,
        signer: record.signer[i],
        source: 'transaction',
        writable: record.writable[i],
      })),
      recentBlockhash: m.lifetimeToken,
      instructions: record.instructions.map((ix) => parseInstruction(ix)),
      ...lookups,
    },
  };
}

/** getTransaction's `meta`; `parsed` decodes inner instructions as jsonParsed does. */
export function encodeMeta(record: TxRecord, parsed: boolean): Record<string, unknown> {
  return {
    err: record.err,
    status: record.err === null ? { Ok: null } : { Err: record.err },
    fee: record.fee,
    preBalances: record.preBalances,
    postBalances: record.postBalances,
    innerInstructions: record.innerInstructions.map((set) => ({
      index: set.index,
      instructions: set.instructions.map((ix) =>
        parsed
          ? parseInstruction(ix)
          : { programIdIndex: ix.programIdIndex, accounts: ix.accountIndices, data: bs58.encode(ix.data), stackHeight: ix.stackHeight },
      ),
    })),
    logMessages: record.logs,
    preTokenBalances: record.preTokenBalances,
    postTokenBalances: record.postTokenBalances,
    rewards: [],
    loadedAddresses: { writable: [], readonly: [] },
    computeUnitsConsumed: record.computeUnits,
  };
}
