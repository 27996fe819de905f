import {
  decodeMint,
  decodeTokenAccount,
  encodeAccount,
  isTokenProgram,
  uiTokenAmount,
} from './account-codec';
import { formatMemos } from './instruction-parser';
import { COMMITMENT_RANK, type LedgerState } from './ledger-state';
import { encodeMeta, encodeTransaction } from './rpc-encoding';
import { invalidParams, RpcError, RPC_UNSUPPORTED_TX_VERSION, type RpcHandler } from './rpc-json';
import { accountEncoding, atLeastConfirmed, cfg, dataSlice, decodeWire, pubkey, str } from './rpc-params';

const API_VERSION = '2.2.0';
const GENESIS_HASH = '5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d';

/** The JSON-RPC (HTTP) methods the emulator serves, each read from or submitted to the ledger `L`. */
export function rpcMethods(L: LedgerState): Record<string, RpcHandler> {
  const ctx = () => ({ slot: L.slot, apiVersion: API_VERSION });
  const withCtx = (value: unknown) => ({ context: ctx(), value });
  const encodeOrNull = (key: string, c: Record<string, unknown>) => {
    const acct = L.getAccount(key);
    return acct ? encodeAccount(acct, accountEncoding(c.encoding, 'base58'), L.mintDecimals, dataSlice(c.dataSlice)) : null;
  };

  return {
    getHealth: () => 'ok',
    getVersion: () => ({ 'solana-core': API_VERSION, 'feature-set': 3294202862 }),
    getGenesisHash: () => GENESIS_HASH,
    getSlot: () => L.slot,
    getBlockHeight: () => L.blockHeight,
    getEpochInfo: () => ({
      absoluteSlot: L.slot,
      blockHeight: L.blockHeight,
      epoch: Math.floor(L.slot / 432_000),
      slotIndex: L.slot % 432_000,
      slotsInEpoch: 432_000,
      transactionCount: null,
    }),
    getLatestBlockhash: () => withCtx(L.issueBlockhash()),
    isBlockhashValid: (p) => withCtx(L.isBlockhashValid(str(p, 0, 'blockhash'))),
    getRecentPrioritizationFees: () => [],
    getMinimumBalanceForRentExemption: (p) => L.minimumBalanceForRentExemption(Number(p[0] ?? 0)),

    getFeeForMessage: (p) => {
      const bytes = Buffer.from(str(p, 0, 'message'), 'base64');
      // Byte 0 is the header of a legacy message, or the 0x80 version prefix followed by the header.
      const numSigners = (bytes[0] ?? 0) & 0x80 ? (bytes[1] ?? 0) : (bytes[0] ?? 0);
      return withCtx(BigInt(numSigners) * 5000n);
    },

    sendTransaction: (p) => {
      const c = cfg(p, 1);
      const wire = decodeWire(str(p, 0, 'transaction'), c.encoding, 'base58');
      return L.submit(wire, { skipPreflight: c.skipPreflight === true });
    },

    simulateTransaction: (p) => {
      const c = cfg(p, 1);
      const wire = decodeWire(str(p, 0, 'transaction'), c.encoding, 'base58');
      const sigVerify = c.sigVerify === true;
      const replaceRecentBlockhash = c.replaceRecentBlockhash === true;
      if (sigVerify && replaceRecentBlockhash) throw invalidParams('sigVerify may not be used with replaceRecentBlockhash');
      const accountsCfg = c.accounts as { addresses?: unknown; encoding?: unknown } | undefined;
      const addresses = Array.isArray(accountsCfg?.addresses) ? accountsCfg.addresses.map(String) : undefined;
      const sim = L.simulate(wire, { sigVerify, replaceRecentBlockhash, ...(addresses ? { accounts: addresses } : {}) });
      const encoding = accountEncoding(accountsCfg?.encoding, 'base64');
      return withCtx({
        err: sim.err,
        logs: sim.logs,
        accounts: sim.accounts ? sim.accounts.map((a) => (a ? encodeAccount(a, encoding, L.mintDecimals) : null)) : null,
        unitsConsumed: sim.unitsConsumed,
        returnData: sim.returnData,
        innerInstructions: null,
        replacementBlockhash: sim.replacementBlockhash ?? null,
      });
    },

    requestAirdrop: (p) => {
      const lamports = p[1];
      if (typeof lamports !== 'number' && typeof lamports !== 'string') throw invalidParams('lamports');
      return L.requestAirdrop(pubkey(p, 0), BigInt(lamports));
    },

    getSignatureStatuses: (p) => {
      const sigs = p[0];
      if (!Array.isArray(sigs) || sigs.length > 256) throw invalidParams('expected up to 256 signatures');
      return withCtx(
        sigs.map((s) => {
          const record = L.getRecord(String(s));
          if (!record) return null;
          return {
            slot: record.slot,
            confirmations: record.status === 'finalized' ? null : record.status === 'confirmed' ? 1 : 0,
            err: record.err,
            status: record.err === null ? { Ok: null } : { Err: record.err },
            confirmationStatus: record.status,
          };
        }),
      );
    },

    getBalance: (p) => withCtx(L.getAccount(pubkey(p, 0))?.lamports ?? 0n),
    getAccountInfo: (p) => withCtx(encodeOrNull(pubkey(p, 0), cfg(p, 1))),
    getMultipleAccounts: (p) => {
      const keys = p[0];
      if (!Array.isArray(keys) || keys.length > 100) throw invalidParams('expected up to 100 pubkeys');
      const c = cfg(p, 1);
      return withCtx(keys.map((_, i) => encodeOrNull(pubkey(keys, i), c)));
    },

    getTokenAccountsByOwner: (p) => {
      const owner = pubkey(p, 0);
      const filter = cfg(p, 1);
      const c = cfg(p, 2);
      let programs: string[];
      let mint: string | undefined;
      if (typeof filter.mint === 'string') {
        mint = filter.mint;
        const mintAccount = L.getAccount(mint);
        if (!mintAccount || !isTokenProgram(mintAccount.owner)) throw invalidParams('Invalid param: could not find mint');
        programs = [mintAccount.owner];
      } else if (typeof filter.programId === 'string') {
        if (!isTokenProgram(filter.programId)) throw invalidParams('Invalid param: unrecognized Token program id');
        programs = [filter.programId];
      } else {
        throw invalidParams('expected a mint or programId filter');
      }
      const encoding = accountEncoding(c.encoding, 'base58');
      const value = programs.flatMap((program) =>
        L.getProgramAccounts(program)
          .filter(({ account }) => {
            const t = decodeTokenAccount(account);
            return t !== null && t.owner === owner && (mint === undefined || t.mint === mint);
          })
          .map(({ pubkey: key, account }) => ({ pubkey: key, account: encodeAccount(account, encoding, L.mintDecimals) })),
      );
      return withCtx(value);
    },

    getTokenAccountBalance: (p) => {
      const acct = L.getAccount(pubkey(p, 0));
      const token = acct ? decodeTokenAccount(acct) : null;
      if (!token) throw invalidParams('Invalid param: not a Token account');
      return withCtx(uiTokenAmount(token.amount, L.mintDecimals(token.mint) ?? 0));
    },

    getTokenSupply: (p) => {
      const acct = L.getAccount(pubkey(p, 0));
      const mint = acct ? decodeMint(acct) : null;
      if (!mint) throw invalidParams('Invalid param: not a Token mint');
      return withCtx(uiTokenAmount(mint.supply, mint.decimals));
    },

    getSignaturesForAddress: (p) => {
      const addr = pubkey(p, 0);
      const c = cfg(p, 1);
      const limit = c.limit === undefined || c.limit === null ? 1000 : Number(c.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParams('Invalid limit; max 1000');
      const commitment = atLeastConfirmed(c.commitment);
      const all = L.signaturesFor(addr);
      const out: Record<string, unknown>[] = [];
      let started = typeof c.before !== 'string';
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        const sig = all[i]!;
        if (!started) {
          if (sig === c.before) started = true;
          continue;
        }
        if (sig === c.until) break;
        const record = L.getRecord(sig)!;
        if (COMMITMENT_RANK[record.status] < COMMITMENT_RANK[commitment]) continue;
        out.push({
          signature: sig,
          slot: record.slot,
          err: record.err,
          memo: formatMemos(record.memos),
          blockTime: record.blockTime,
          confirmationStatus: record.status,
        });
      }
      return out;
    },

    getTransaction: (p) => {
      const sig = str(p, 0, 'signature');
      const c = cfg(p, 1);
      const record = L.getRecord(sig);
      if (!record || COMMITMENT_RANK[record.status] < COMMITMENT_RANK[atLeastConfirmed(c.commitment)]) return null;
      const maxVersion = c.maxSupportedTransactionVersion;
      if (record.version === 0 && (maxVersion === undefined || maxVersion === null)) {
        throw new RpcError(
          RPC_UNSUPPORTED_TX_VERSION,
          'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
        );
      }
      const encoding = typeof c.encoding === 'string' ? c.encoding : 'json';
      return {
        slot: record.slot,
        blockTime: record.blockTime,
        ...(maxVersion === undefined || maxVersion === null ? {} : { version: record.version }),
        transaction: encodeTransaction(record, encoding),
        meta: encodeMeta(record, encoding === 'jsonParsed'),
      };
    },
  };
}
