import {
  createAssociatedTokenAccountIdempotentInstruction,
  createInitializeMint2Instruction,
  createMintToInstruction,
  createTransferCheckedInstruction,
  createTransferInstruction,
  getAssociatedTokenAddressSync,
  MINT_SIZE,
  TOKEN_2022_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
} from '@solana/spl-token';
import {
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SystemProgram,
  Transaction,
  TransactionInstruction,
} from '@solana/web3.js';
import { decodeMint, decodeTokenAccount, MEMO_PROGRAM } from './account-codec';
import { LedgerState } from './ledger-state';
import { RpcError } from './rpc-json';
import { SolanaRpcServer } from './rpc-server';

/*
 * Test/sandbox driver for the loopback Solana cluster: JSON-RPC on `rpcUrl`, pubsub on `wsUrl` (same port).
 * Point a web3.js Connection at both (`new Connection(rpcUrl, { wsEndpoint: wsUrl })`).
 *
 * Time model: every landed transaction is its own slot (block height +1) and gets a fresh LiteSVM
 * blockhash; a blockhash handed out by getLatestBlockhash stays valid for `blockhashValiditySlots` block
 * heights. web3.js caches a blockhash per Connection for 30 s in `sendTransaction(tx, signers)`, so after
 * `expireBlockhashes()` (or >150 landed txs) such a Connection may sign with a dead hash: use a new
 * Connection or fetch the blockhash explicitly.
 */

export interface SolanaEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Block heights a fetched blockhash stays valid (default 150, like mainnet). */
  blockhashValiditySlots?: number;
  /** Advance one slot every N ms, like a live cluster; off by default so tests control time. */
  slotIntervalMs?: number;
}

type KeyLike = PublicKey | string;

export interface TransferOptions {
  /** Solana Pay reference key(s), attached as read-only non-signer accounts of the transfer instruction. */
  reference?: KeyLike | KeyLike[];
  memo?: string;
}

export interface TokenTransferOptions extends TransferOptions {
  /** transferChecked (default) or the plain transfer instruction. */
  checked?: boolean;
  /** Create the recipient's ATA idempotently first (default true). */
  createAta?: boolean;
}

export interface SolanaEmulatorFaults {
  /** The next sendTransaction answers with the signature but the tx never lands. */
  dropNextSend(): void;
  /** The next landed tx stays `processed` (invisible at confirmed) for `ms`, then finalizes and notifies. */
  delayConfirmation(ms: number): void;
  /** The next HTTP request for `method` answers with this HTTP status instead of JSON-RPC. */
  failNextRpc(method: string, status?: number): void;
}

export interface SolanaEmulator {
  readonly rpcUrl: string;
  readonly wsUrl: string;
  /** Unknown methods/routes and emulator crashes; tests should assert it stays empty. */
  readonly failures: readonly string[];
  readonly faults: SolanaEmulatorFaults;
  readonly slot: number;
  readonly blockHeight: number;
  /** Live pubsub subscriptions, to wait for a client's subscription to register before acting. */
  readonly subscriptionCount: number;
  /** Adds lamports directly to an account (no transaction, no history). */
  fund(pubkey: KeyLike, lamports: bigint | number): void;
  /** A fresh keypair funded with `lamports` (default 10 SOL). */
  newWallet(lamports?: bigint | number): Keypair;
  /** Creates a mint whose authority is the emulator's own key; returns the mint address. */
  createMint(decimals: number, opts?: { token2022?: boolean }): Promise<PublicKey>;
  /** Mints into `owner`'s ATA (created if needed); returns the ATA. */
  mintTo(mint: KeyLike, owner: KeyLike, amount: bigint | number): Promise<PublicKey>;
  /** Signs with payer (+ extra signers) over a fresh blockhash and sends with preflight; returns the signature. */
  sendAs(payer: Keypair, instructions: TransactionInstruction[], extraSigners?: Keypair[]): Promise<string>;
  transferSol(from: Keypair, to: KeyLike, lamports: bigint | number, opts?: TransferOptions): Promise<string>;
  transferToken(from: Keypair, mint: KeyLike, toOwner: KeyLike, amount: bigint | number, opts?: TokenTransferOptions): Promise<string>;
  balance(pubkey: KeyLike): bigint;
  /** Sum of `owner`'s token accounts for `mint`. */
  tokenBalance(owner: KeyLike, mint: KeyLike): bigint;
  /** Token program that owns `mint`. */
  tokenProgramOf(mint: KeyLike): PublicKey;
  advanceSlots(n: number): void;
  /** Advances block height past every blockhash handed out so far. */
  expireBlockhashes(): void;
  close(): Promise<void>;
}

export class EmulatedTxError extends Error {
  constructor(
    message: string,
    readonly logs: string[],
    readonly err: unknown,
  ) {
    super(message);
  }
}

export async function startSolanaEmulator(opts: SolanaEmulatorOptions = {}): Promise<SolanaEmulator> {
  const ledger = new LedgerState(
    opts.blockhashValiditySlots === undefined ? {} : { blockhashValiditySlots: opts.blockhashValiditySlots },
  );
  const server = new SolanaRpcServer(ledger);
  const { rpcUrl, wsUrl } = await server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  const authority = Keypair.generate();
  ledger.addLamports(authority.publicKey.toBase58(), 1_000n * BigInt(LAMPORTS_PER_SOL));
  const ticker = opts.slotIntervalMs ? setInterval(() => ledger.advanceSlots(1), opts.slotIntervalMs) : null;
  ticker?.unref();

  const pk = (k: KeyLike) => (typeof k === 'string' ? new PublicKey(k) : k);

  const sendAs = async (payer: Keypair, instructions: TransactionInstruction[], extraSigners: Keypair[] = []) => {
    const { blockhash } = ledger.issueBlockhash();
    const tx = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash }).add(...instructions);
    tx.sign(payer, ...extraSigners);
    try {
      return ledger.submit(tx.serialize(), { skipPreflight: false });
    } catch (e) {
      if (e instanceof RpcError) {
        const data = (e.data ?? {}) as { logs?: string[]; err?: unknown };
        throw new EmulatedTxError(e.message, data.logs ?? [], data.err ?? null);
      }
      throw e;
    }
  };

  const tokenProgramOf = (mint: KeyLike) => {
    const acct = ledger.getAccount(pk(mint).toBase58());
    if (!acct) throw new Error(`mint ${pk(mint).toBase58()} does not exist`);
    return new PublicKey(acct.owner);
  };

  const mintDecimals = (mint: KeyLike) => {
    const acct = ledger.getAccount(pk(mint).toBase58());
    const state = acct ? decodeMint(acct) : null;
    if (!state) throw new Error(`${pk(mint).toBase58()} is not a mint`);
    return state.decimals;
  };

  const tail = (ix: TransactionInstruction, o: TransferOptions | undefined) => {
    const refs = o?.reference === undefined ? [] : Array.isArray(o.reference) ? o.reference : [o.reference];
    for (const r of refs) ix.keys.push({ pubkey: pk(r), isSigner: false, isWritable: false });
    const out = [ix];
    if (o?.memo !== undefined) {
      out.push(new TransactionInstruction({ programId: new PublicKey(MEMO_PROGRAM), keys: [], data: Buffer.from(o.memo, 'utf8') }));
    }
    return out;
  };

  const emulator: SolanaEmulator = {
    rpcUrl,
    wsUrl,
    failures: server.failures,
    faults: {
      dropNextSend: () => ledger.dropNextSend(),
      delayConfirmation: (ms) => ledger.delayNextConfirmation(ms),
      failNextRpc: (method, status = 500) => server.failNextRpc(method, status),
    },
    get slot() {
      return ledger.slot;
    },
    get blockHeight() {
      return ledger.blockHeight;
    },
    get subscriptionCount() {
      return server.subscriptionCount;
    },
    fund: (pubkey, lamports) => ledger.addLamports(pk(pubkey).toBase58(), BigInt(lamports)),
    newWallet: (lamports = 10n * BigInt(LAMPORTS_PER_SOL)) => {
      const kp = Keypair.generate();
      ledger.addLamports(kp.publicKey.toBase58(), BigInt(lamports));
      return kp;
    },
    createMint: async (decimals, o = {}) => {
      const programId = o.token2022 ? TOKEN_2022_PROGRAM_ID : TOKEN_PROGRAM_ID;
      const mint = Keypair.generate();
      const rent = ledger.minimumBalanceForRentExemption(MINT_SIZE);
      await sendAs(
        authority,
        [
          SystemProgram.createAccount({
            fromPubkey: authority.publicKey,
            newAccountPubkey: mint.publicKey,
            lamports: Number(rent),
            space: MINT_SIZE,
            programId,
          }),
          createInitializeMint2Instruction(mint.publicKey, decimals, authority.publicKey, null, programId),
        ],
        [mint],
      );
      return mint.publicKey;
    },
    mintTo: async (mint, owner, amount) => {
      const programId = tokenProgramOf(mint);
      const ata = getAssociatedTokenAddressSync(pk(mint), pk(owner), true, programId);
      await sendAs(authority, [
        createAssociatedTokenAccountIdempotentInstruction(authority.publicKey, ata, pk(owner), pk(mint), programId),
        createMintToInstruction(pk(mint), ata, authority.publicKey, BigInt(amount), [], programId),
      ]);
      return ata;
    },
    sendAs,
    transferSol: (from, to, lamports, o) =>
      sendAs(from, tail(SystemProgram.transfer({ fromPubkey: from.publicKey, toPubkey: pk(to), lamports: BigInt(lamports) }), o)),
    transferToken: (from, mint, toOwner, amount, o = {}) => {
      const programId = tokenProgramOf(mint);
      const source = getAssociatedTokenAddressSync(pk(mint), from.publicKey, true, programId);
      const dest = getAssociatedTokenAddressSync(pk(mint), pk(toOwner), true, programId);
      const ixs: TransactionInstruction[] = [];
      if (o.createAta !== false) {
        ixs.push(createAssociatedTokenAccountIdempotentInstruction(from.publicKey, dest, pk(toOwner), pk(mint), programId));
      }
      const transfer =
        o.checked === false
          ? createTransferInstruction(source, dest, from.publicKey, BigInt(amount), [], programId)
          : createTransferCheckedInstruction(source, pk(mint), dest, from.publicKey, BigInt(amount), mintDecimals(mint), [], programId);
      ixs.push(...tail(transfer, o));
      return sendAs(from, ixs);
    },
    balance: (pubkey) => ledger.getAccount(pk(pubkey).toBase58())?.lamports ?? 0n,
    tokenBalance: (owner, mint) => {
      const ownerKey = pk(owner).toBase58();
      const mintKey = pk(mint).toBase58();
      const program = tokenProgramOf(mint).toBase58();
      let total = 0n;
      for (const { account } of ledger.getProgramAccounts(program)) {
        const t = decodeTokenAccount(account);
        if (t && t.owner === ownerKey && t.mint === mintKey) total += t.amount;
      }
      return total;
    },
    tokenProgramOf,
    advanceSlots: (n) => ledger.advanceSlots(n),
    expireBlockhashes: () => ledger.expireBlockhashes(),
    close: async () => {
      if (ticker) clearInterval(ticker);
      ledger.close();
      await server.close();
    },
  };
  return emulator;
}
