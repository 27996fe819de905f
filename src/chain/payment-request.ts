import { PublicKey, Transaction, type Connection } from '@solana/web3.js';
import { buildTransferInstructions, getLatestBlockhash, type MintInfo } from './transfers';

export interface PaymentTransactionRequest {
  /** The wallet that pays (fee payer, owner of the source funds) — the account the browser wallet connected. */
  payer: string;
  recipient: string;
  /** Base units. */
  amount: bigint;
  /** Omit for SOL. */
  mint?: MintInfo;
  /** Solana Pay reference key: how the watcher finds the payment. */
  reference: string;
}

/** True for a base58 string that is a 32-byte public key exactly as written. */
export function isPublicKey(value: string): boolean {
  try {
    return new PublicKey(value).toBase58() === value;
  } catch {
    return false;
  }
}

/**
 * An unsigned transfer transaction for a wallet to sign and send (a Solana Pay "transaction request" answer): the
 * same instructions a Solana Pay wallet builds from the transfer URL (recipient ATA created idempotently for SPL,
 * the reference as a read-only key), over a fresh blockhash, the payer as fee payer. Base64 wire bytes.
 */
export async function buildPaymentTransaction(connection: Connection, req: PaymentTransactionRequest): Promise<{ transaction: string; lastValidBlockHeight: number }> {
  const bh = await getLatestBlockhash(connection, 'confirmed');
  const tx = new Transaction({ feePayer: new PublicKey(req.payer), blockhash: bh.blockhash, lastValidBlockHeight: bh.lastValidBlockHeight }).add(
    ...buildTransferInstructions({ from: req.payer, recipient: req.recipient, amount: req.amount, ...(req.mint && { mint: req.mint }), reference: req.reference }),
  );
  return { transaction: tx.serialize({ requireAllSignatures: false, verifySignatures: false }).toString('base64'), lastValidBlockHeight: bh.lastValidBlockHeight };
}
