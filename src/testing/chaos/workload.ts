import { parseDecimalAmount } from '../../chain/amounts';
import { renderMessage } from '../../emulators/discord/render-message';
import { newReference, parseTransferRequestUrl } from '../../chain/solana-pay';
import { InteractionResponseType } from 'discord.js';
import { isErrorReply } from '../../discord/error-reply';
import { INTERRUPTED_TEXT } from '../../discord/reply-outbox';
import type { EmuGuild, EmuMessage, EmuUser, InteractionResult, OptionValue } from '../../emulators/discord';
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
  /** Holds the guild's staff role: claims tickets (and does everything else too). */
  staff: boolean;
}

/** Per guild, at most this many tickets not closed per member (guild_settings): the limit is hit and must hold. */
export const MAX_OPEN_TICKETS = 2;

export type OpKind =
  | 'tip'
  | 'multi-tip'
  | 'balance'
  | 'withdraw'
  | 'deposit'
  | 'airdrop'
  | 'claim'
  | 'rain'
  | 'ticket-open'
  | 'ticket-submit'
  | 'ticket-claim'
  | 'ticket-close';

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
  /** The airdrop an /airdrop created (once answered) or a Claim click was for. */
  airdropId?: string;
  /** A Claim click sent together with a second one by the same member (a double click). */
  double?: boolean;
  /** The ticket a ticket action was for, or the one a submitted form opened (once answered). */
  ticketId?: string;
}

/**
 * How an op ended, from the member's side. `asked`: a Confirm/Cancel prompt (a /tip identical to one applied in the
 * last minute, see the ledger's repeat guard); the workload never clicks, so nothing may have moved. `updated`: a
 * Claim click whose answer was the airdrop message redrawn (the click's response) without the ephemeral line after
 * it — the replica died in between; the member saw the count move, not "You claimed". `interrupted`: the reply
 * outbox's honest answer to a deferral whose replica died ("may or may not have been done"), so either is right.
 */
export type Outcome = 'ok' | 'asked' | 'error' | 'interrupted' | 'updated' | 'interaction-failed' | 'unanswered';

export function outcomeOf(op: Op): Outcome {
  if (op.unsent !== undefined || !op.result.acked) return 'interaction-failed';
  if (op.kind === 'claim') {
    // The clicked message itself is redrawn by the response; the member's answer is what comes with or after it.
    const own = op.result.messages.filter((m) => m !== op.result.record.sourceMessage);
    if (own.some((m) => isErrorReply(m.content))) return 'error';
    if (own.some((m) => m.content.includes('You claimed'))) return 'ok';
    return op.result.responseType === InteractionResponseType.UpdateMessage ? 'updated' : 'unanswered';
  }
  if (op.result.shownModal) return 'ok';
  const first = op.result.messages[0];
  if (!first) return 'unanswered';
  if (first.content === INTERRUPTED_TEXT) return 'interrupted';
  if (isErrorReply(first.content)) return 'error';
  return renderMessage(first).includes('(tip-confirm:') ? 'asked' : 'ok';
}

type Choice = Exclude<OpKind, 'ticket-submit'>;
const WEIGHTS: Array<[Choice, number]> = [
  ['tip', 30],
  ['multi-tip', 10],
  ['balance', 6],
  ['withdraw', 10],
  ['deposit', 10],
  ['airdrop', 4],
  ['claim', 14],
  ['rain', 4],
  ['ticket-open', 5],
  ['ticket-claim', 4],
  ['ticket-close', 3],
];

/**
 * `perGuild` members in every guild, funded in the ledger, each with a verified wallet and an on-chain payer. Every
 * guild is set up for tickets as its admin would with /setup (a support channel, a staff role its first member
 * holds, a limit on open tickets and no cooldown, so members hit the limit rather than the clock).
 */
export async function createMembers(cluster: Cluster, pg: ChaosPostgres, perGuild: number): Promise<Member[]> {
  const { discord, solana } = cluster.emus;
  const factory = new Factory(pg.db);
  const members: Member[] = [];
  let n = 0;
  for (const guild of discord.guilds.values()) {
    const { support, staffRole } = discord.inGuild(guild, () => ({ support: discord.channel('support'), staffRole: discord.role('Support Staff') }));
    await pg.db
      .insertInto('guild_settings')
      .values({ guild_id: guild.id, support_channel_id: support.id, staff_role_id: staffRole.id, max_open_tickets: MAX_OPEN_TICKETS, open_cooldown_seconds: 0 })
      .execute();
    for (let i = 0; i < perGuild; i++) {
      const staff = i === 0;
      const user = discord.inGuild(guild, () => discord.user(`member${++n}`, staff ? { roles: [staffRole] } : {}));
      const row = await factory.user({ discordId: user.id, username: user.username });
      await factory.balance(row, { amount: STARTING_BALANCE, key: `chaos-fund:${user.id}` });
      // A fresh address used for nothing else: its balance on chain is exactly what was paid out to it.
      const wallet = newReference();
      await factory.wallet(row, { address: wallet });
      members.push({ user, guild, payer: solana.newWallet(100n * SOL), wallet, staff });
    }
  }
  return members;
}

/** A live airdrop message members can click Claim on. */
interface LiveAirdrop {
  id: string;
  message: EmuMessage;
  creator: Member;
  until: number;
}

/** A ticket a member saw opened, not yet seen closed. */
interface KnownTicket {
  id: string;
  opener: Member;
}

const AIRDROP_SECONDS = 30;

/**
 * Member clients, each sending one interaction at a time with a short think time, until `stop` is aborted. Each op
 * waits a bounded time for its answer and moves on; whatever it is shown later still counts when checked. Members
 * see what their guild sees: airdrop messages to click Claim on (sometimes twice in a row, as an impatient member
 * does), tickets they opened (to close) and, for staff, every ticket in the guild (to claim).
 */
export async function runWorkload(cluster: Cluster, members: Member[], rng: Rng, stop: AbortSignal, ops: Op[]): Promise<void> {
  const { discord } = cluster.emus;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const kindOf = (): Choice => {
    let x = rng() * WEIGHTS.reduce((a, [, w]) => a + w, 0);
    for (const [k, w] of WEIGHTS) if ((x -= w) < 0) return k;
    return 'balance';
  };
  const amount = (min: number, max: number) => (min + Math.floor(rng() * (max - min + 1))) / 1000;
  const airdrops = new Map<EmuGuild, LiveAirdrop[]>();
  const tickets = new Map<EmuGuild, KnownTicket[]>();
  for (const m of members) {
    airdrops.set(m.guild, []);
    tickets.set(m.guild, []);
  }

  const send = (m: Member, command: string, options: Record<string, OptionValue>): InteractionResult | string =>
    discord.inGuild(m.guild, () => {
      try {
        return discord.runCommand(m.user, command, options);
      } catch (err) {
        return (err as Error).message;
      }
    });
  /** Sends `fn`'s interaction as an op of `kind` (unless the emulator refused it) and waits a bounded time for it. */
  const record = async (kind: OpKind, m: Member, fn: () => InteractionResult, extra: Partial<Op> = {}): Promise<Op | undefined> => {
    let result: InteractionResult;
    try {
      result = discord.inGuild(m.guild, fn);
    } catch {
      return undefined;
    }
    const op: Op = { kind, member: m, to: [], result, ...extra };
    ops.push(op);
    return op;
  };
  const answer = (op: Op) => op.result.reply(6_000).catch(() => undefined);

  /** One click on Claim, or two at once; each is an op. */
  const claim = async (m: Member) => {
    const live = airdrops.get(m.guild)!.filter((a) => a.creator !== m && a.until > Date.now());
    if (live.length === 0) return airdrop(m);
    const a = pick(live);
    const double = rng() < 0.3;
    const clicks = await Promise.all(
      Array.from({ length: double ? 2 : 1 }, () => record('claim', m, () => discord.click(m.user, a.message, `airdrop-claim:${a.id}`), { airdropId: a.id, ...(double ? { double } : {}) })),
    );
    // A disabled button (all taken, expired): the member sees there is nothing left to claim.
    if (clicks.every((c) => c === undefined)) airdrops.set(m.guild, airdrops.get(m.guild)!.filter((x) => x !== a));
    await Promise.all(clicks.map((c) => c && c.result.ack(6_000).catch(() => undefined)));
  };

  const airdrop = async (m: Member) => {
    const sent = send(m, '/airdrop', { amount: String(amount(10, 90)), claims: 1 + Math.floor(rng() * 3), duration: `${AIRDROP_SECONDS}s` });
    if (typeof sent === 'string') return;
    const op: Op = { kind: 'airdrop', member: m, to: [], result: sent };
    ops.push(op);
    const reply = await answer(op);
    const id = reply && /\(airdrop-claim:(\d+)\)/.exec(renderMessage(reply))?.[1];
    if (!reply || !id) return;
    op.airdropId = id;
    airdrops.get(m.guild)!.push({ id, message: reply, creator: m, until: Date.now() + AIRDROP_SECONDS * 1000 });
  };

  /** /ticket open → the form → submitted: two interactions, two ops. */
  const openTicket = async (m: Member) => {
    const shown = await record('ticket-open', m, () => discord.runCommand(m.user, '/ticket open', { category: 'general' }));
    const modal = shown && (await shown.result.modal(6_000).catch(() => undefined));
    if (!shown || !modal) return;
    const submit = await record('ticket-submit', m, () =>
      discord.submitModal(m.user, shown.result, modal.custom_id, { subject: `chaos ${shown.result.id}`, description: 'Opened by the fault suite while replicas die.' }),
    );
    const reply = submit && (await answer(submit));
    const id = reply && /Ticket \*\*#(\d+)\*\* opened/.exec(reply.content)?.[1];
    if (!submit || !id) return;
    submit.ticketId = id;
    tickets.get(m.guild)!.push({ id, opener: m });
  };

  const ticketAction = async (m: Member, kind: 'ticket-claim' | 'ticket-close') => {
    const known = tickets.get(m.guild)!.filter((t) => kind === 'ticket-claim' || t.opener === m);
    if (known.length === 0) return openTicket(m);
    const t = pick(known);
    const op = await record(kind, m, () => discord.runCommand(m.user, `/ticket ${kind === 'ticket-claim' ? 'claim' : 'close'}`, { id: Number(t.id) }), { ticketId: t.id });
    const reply = op && (await answer(op));
    if (kind === 'ticket-close' && reply && !isErrorReply(reply.content)) tickets.set(m.guild, tickets.get(m.guild)!.filter((x) => x !== t));
  };

  const client = async (m: Member) => {
    const peers = members.filter((p) => p.guild === m.guild && p !== m);
    while (!stop.aborted) {
      let kind = kindOf();
      if (kind === 'ticket-claim' && !m.staff) kind = 'balance';
      let to: Member[] = [];
      let sent: InteractionResult | string | undefined;
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
      } else if (kind === 'rain') {
        sent = send(m, '/rain', { amount: String(amount(4, 40)), count: 1 + Math.floor(rng() * 4) });
      } else if (kind === 'airdrop') {
        await airdrop(m);
      } else if (kind === 'claim') {
        await claim(m);
      } else if (kind === 'ticket-open') {
        await openTicket(m);
      } else if (kind === 'ticket-claim') {
        await ticketAction(m, 'ticket-claim');
      } else if (kind === 'ticket-close') {
        await ticketAction(m, 'ticket-close');
      } else {
        sent = send(m, '/balance', {});
      }
      if (typeof sent === 'string') {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (sent) {
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
      }
      await new Promise((r) => setTimeout(r, 20 + rng() * 180));
    }
  };
  await Promise.all(members.map(client));
}
