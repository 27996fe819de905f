import { parseDecimalAmount } from '../../chain/amounts';
import { renderMessage } from '../../emulators/discord/render-message';
import { newReference, parseTransferRequestUrl } from '../../chain/solana-pay';
import { isErrorReply } from '../../discord/error-reply';
import type { EmuGuild, EmuUser, InteractionResult } from '../../emulators/discord';
import { Factory } from '../factories';
import type { Cluster } from './cluster';
import type { ChaosPostgres } from './postgres';
import type { Rng } from './rng';

const SOL = 1_000_000_000n;
/** What each member starts with in the ledger (an admin_credit inflow). */
export const STARTING_BALANCE = 2n * SOL;

export interface Member {
  user: EmuUser;
  guild: EmuGuild;
  /** Funds the member's deposits on chain. */
  payer: ReturnType<Cluster['emus']['solana']['newWallet']>;
  /** The member's verified wallet: withdrawals pay here and nowhere else, so its balance counts the payouts. */
  wallet: string;
}

export type OpKind = 'tip' | 'multi-tip' | 'balance' | 'withdraw' | 'deposit';

/** One interaction a member sent, and what the member was shown (read live: late answers count). */
export interface Op {
  kind: OpKind;
  member: Member;
  /** Receivers of a tip. */
  to: Member[];
  result: InteractionResult;
  /** A deposit the member paid on chain after being shown the request: the transfer's signature. */
  depositSignature?: string;
  /** The emulator refused to send it (no gateway session for the guild's shard at all). */
  unsent?: string;
}

/**
 * How an op ended, from the member's side. `asked`: a Confirm/Cancel prompt (a /tip identical to one applied in the
 * last minute, see the ledger's repeat guard); the workload never clicks, so nothing may have moved.
 */
export type Outcome = 'ok' | 'asked' | 'error' | 'interaction-failed' | 'unanswered';

export function outcomeOf(op: Op): Outcome {
  if (op.unsent !== undefined || !op.result.acked) return 'interaction-failed';
  const first = op.result.messages[0];
  if (!first) return 'unanswered';
  if (isErrorReply(first.content)) return 'error';
  return renderMessage(first).includes('(tip-confirm:') ? 'asked' : 'ok';
}

const WEIGHTS: Array<[OpKind, number]> = [
  ['tip', 40],
  ['multi-tip', 15],
  ['balance', 15],
  ['withdraw', 15],
  ['deposit', 15],
];

/** `perGuild` members in every guild, funded in the ledger, each with a verified wallet and an on-chain payer. */
export async function createMembers(cluster: Cluster, pg: ChaosPostgres, perGuild: number): Promise<Member[]> {
  const { discord, solana } = cluster.emus;
  const factory = new Factory(pg.db);
  const members: Member[] = [];
  let n = 0;
  for (const guild of discord.guilds.values()) {
    for (let i = 0; i < perGuild; i++) {
      const user = discord.inGuild(guild, () => discord.user(`member${++n}`));
      const row = await factory.user({ discordId: user.id, username: user.username });
      await factory.balance(row, { amount: STARTING_BALANCE, key: `chaos-fund:${user.id}` });
      // A fresh address used for nothing else: its balance on chain is exactly what was paid out to it.
      const wallet = newReference();
      await factory.wallet(row, { address: wallet });
      members.push({ user, guild, payer: solana.newWallet(100n * SOL), wallet });
    }
  }
  return members;
}

/**
 * Member clients, each sending one interaction at a time with a short think time, until `stop` is aborted. Each op
 * waits a bounded time for its answer and moves on; whatever it is shown later still counts when checked.
 */
export async function runWorkload(cluster: Cluster, members: Member[], rng: Rng, stop: AbortSignal, ops: Op[]): Promise<void> {
  const { discord } = cluster.emus;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const kindOf = (): OpKind => {
    let x = rng() * WEIGHTS.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of WEIGHTS) if ((x -= w) < 0) return k;
    return 'balance';
  };
  const amount = (min: number, max: number) => (min + Math.floor(rng() * (max - min + 1))) / 1000;

  const send = (m: Member, command: string, options: Record<string, string | EmuUser>): InteractionResult | string =>
    discord.inGuild(m.guild, () => {
      try {
        return discord.runCommand(m.user, command, options);
      } catch (err) {
        return (err as Error).message;
      }
    });

  const client = async (m: Member) => {
    const peers = members.filter((p) => p.guild === m.guild && p !== m);
    while (!stop.aborted) {
      const kind = kindOf();
      let to: Member[] = [];
      let sent: InteractionResult | string;
      if (kind === 'tip') {
        to = [pick(peers)];
        sent = send(m, '/tip', { user: to[0]!.user, amount: String(amount(1, 50)) });
      } else if (kind === 'multi-tip') {
        to = [...new Set([pick(peers), pick(peers), pick(peers)])];
        sent = send(m, '/tip', { user: to[0]!.user, amount: String(amount(3, 90)), users: to.slice(1).map((p) => `<@${p.user.id}>`).join(' ') || `<@${to[0]!.user.id}>` });
      } else if (kind === 'withdraw') {
        sent = send(m, '/withdraw', { amount: String(amount(2, 40)) });
      } else if (kind === 'deposit') {
        sent = send(m, '/deposit', { amount: String(amount(5, 60)) });
      } else {
        sent = send(m, '/balance', {});
      }
      if (typeof sent === 'string') {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const op: Op = { kind, member: m, to, result: sent };
      ops.push(op);
      await sent.reply(6_000).then(
        async (reply) => {
          if (kind !== 'deposit' || isErrorReply(reply.content)) return;
          // The member pays what the request asks, to the treasury, naming the request's reference.
          const url = /`(solana:[^`]+)`/.exec(reply.content)?.[1];
          if (!url) return;
          const req = parseTransferRequestUrl(url);
          op.depositSignature = await cluster.emus.solana.transferSol(m.payer, req.recipient, parseDecimalAmount(req.amount!, 9), { reference: req.references });
        },
        () => undefined,
      );
      await new Promise((r) => setTimeout(r, 20 + rng() * 180));
    }
  };
  await Promise.all(members.map(client));
}
