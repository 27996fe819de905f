import type { Sandbox } from '../src/sandbox/sandbox';
import { renderMessage } from '../src/emulators/discord/render-message';
import { expireSubscriptions, remindSubscriptions } from '../src/modules/billing/billing-jobs';

const DAY = 86_400_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

type Step = string | ((sb: Sandbox) => Promise<string[] | void>);

/**
 * `npm run demo`'s membership section: staff sell the VIP role, alice buys a month from her balance and gets the
 * role; she cancels (the role stays until the period ends); then the clock moves on — the jobs take `now` — to the
 * 3-day reminder DM, the expiry, and the role taken back.
 */
export const membershipSteps: Step[] = [
  async (sb) => {
    sb.discord.role('VIP');
  },
  'as sam /plan create code:vip name:VIP role:@VIP price:0.5 description:"The VIP lounge"',
  'as alice /plans',
  'as alice /subscribe plan:vip coupon:NOPE # expect-error',
  'as alice /subscribe plan:vip',
  async (sb) => {
    const invoice = (await sb.app.ctx.services.billing.memberInvoices(sb.discord.user('alice').id))[0];
    if (!invoice) throw new Error('no invoice after /subscribe');
    return [`as alice click billing-pay:${invoice.id}`];
  },
  async (sb) => {
    const emu = sb.discord;
    const has = () => emu.hasRole(emu.user('alice'), emu.role('VIP'));
    for (let i = 0; i < 100 && !has(); i++) {
      await sb.app.jobs.runNow('billing-role-changes');
      if (!has()) await new Promise((r) => setTimeout(r, 50));
    }
    if (!has()) throw new Error('the VIP role was not granted');
    say('(role outbox: alice now has @VIP in the server)');
  },
  'as alice /subscription cancel',
  'as alice /subscription status',
  membershipExpires,
];

/** Moves the clock: the 3-day reminder (once), then the expiry and the role removal. */
async function membershipExpires(sb: Sandbox): Promise<void> {
  const { ctx, jobs } = sb.app;
  const emu = sb.discord;
  const alice = emu.user('alice');
  const vip = emu.role('VIP');
  const [subscription] = await ctx.services.billing.memberSubscriptions(emu.guild.id, alice.id);
  if (!subscription) throw new Error('alice has no subscription');
  const expires = subscription.expires_at.getTime();

  await remindSubscriptions(ctx, { now: new Date(expires - 3 * DAY + 3_600_000) });
  const reminder = emu.channelMessages(alice).at(-1);
  if (!reminder?.content.startsWith('⏳')) throw new Error('no 3-day reminder DM');
  say(`(27 days later, 3 days before the end, subscription-reminders DMs alice:)\n${renderMessage(reminder)}`);
  await remindSubscriptions(ctx, { now: new Date(expires - 3 * DAY + 7_200_000) });
  if (emu.channelMessages(alice).at(-1) !== reminder) throw new Error('the 3-day reminder was sent twice');

  const expired = await expireSubscriptions(ctx, { now: new Date(expires + 60_000) });
  say(`(a month after buying: subscription-expiry ended ${expired.expired} subscription and queued the role removal)`);
  for (let i = 0; i < 100 && emu.hasRole(alice, vip); i++) {
    await jobs.runNow('billing-role-changes');
    if (emu.hasRole(alice, vip)) await new Promise((r) => setTimeout(r, 50));
  }
  if (emu.hasRole(alice, vip)) throw new Error('the VIP role was not taken back');
  const status = (await ctx.services.billing.subscription(subscription.id))?.status;
  say(`(subscription ${status}; alice no longer has @VIP)`);
}
