import type { Sandbox } from '../src/sandbox/sandbox';
import { renderMessage } from '../src/emulators/discord/render-message';
import { expireSubscriptions, remindSubscriptions } from '../src/modules/billing/billing-jobs';
import { Currencies } from '../src/modules/ledger/currencies';

const DAY = 86_400_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `npm run demo`'s membership section: a plan selling the VIP role, alice buys a month from her balance, the role
 * outbox grants the role, then the clock is moved on (the jobs take `now`): the 3-day reminder DM, the expiry, and
 * the role taken back. Driven through the services and jobs the commands and the scheduler use.
 */
export async function membershipDemo(sb: Sandbox): Promise<void> {
  const { ctx, jobs } = sb.app;
  const emu = sb.discord;
  const vip = emu.role('VIP');
  const sam = emu.user('sam', { admin: true });
  const alice = emu.user('alice');
  const plan = await ctx.services.billing.createPlan(
    { discordId: sam.id, via: 'discord' },
    { guildId: emu.guild.id, code: 'vip', name: 'VIP', roleId: vip.id, description: 'The VIP lounge', prices: [{ cycle: 'month', price: '0.5', currency: 'SOL' }] },
  );
  say(`(sam created plan ${plan.code}: grants @${vip.name}, 0.5 SOL a month)`);

  const ref = { discordId: alice.id, username: alice.username };
  const checkout = await ctx.services.billing.subscribe({ interactionId: 'demo-membership-1', guildId: emu.guild.id, user: ref, plan: 'vip', cycle: 'month' });
  say(`(alice subscribed: invoice ${checkout.invoice.number}, ${Currencies.fromConfig(ctx.config).format(checkout.invoice.amount, checkout.invoice.currency)}, ${checkout.invoice.status})`);
  const paid = await ctx.services.billing.payFromBalance(checkout.invoice.id, ref);
  const again = await ctx.services.billing.payFromBalance(checkout.invoice.id, ref);
  const subscription = paid.subscription!;
  say(`(alice paid from her balance: invoice ${paid.invoice.status}; a second click changed nothing: replayed=${again.replayed}; VIP until ${subscription.expires_at.toISOString()})`);

  const drain = async (until: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !until(); i++) {
      await jobs.runNow('billing-role-changes');
      if (!until()) await new Promise((r) => setTimeout(r, 50));
    }
    if (!until()) throw new Error(what);
  };
  await drain(() => emu.hasRole(alice, vip), 'the VIP role was not granted');
  say('(role outbox: alice now has @VIP in the server)');

  const expires = subscription.expires_at.getTime();
  await remindSubscriptions(ctx, { now: new Date(expires - 3 * DAY + 3_600_000) });
  const reminder = emu.channelMessages(alice).at(-1);
  if (!reminder?.content.startsWith('⏳')) throw new Error('no 3-day reminder DM');
  say(`(27 days later, 3 days before expiry, alice gets a DM:)\n${renderMessage(reminder)}`);
  await remindSubscriptions(ctx, { now: new Date(expires - 3 * DAY + 7_200_000) });
  if (emu.channelMessages(alice).at(-1) !== reminder) throw new Error('the 3-day reminder was sent twice');

  const expired = await expireSubscriptions(ctx, { now: new Date(expires + 60_000) });
  say(`(a month later: subscription-expiry ended ${expired.expired} subscription and queued the role removal)`);
  await drain(() => !emu.hasRole(alice, vip), 'the VIP role was not taken back');
  const status = (await ctx.services.billing.subscription(subscription.id))?.status;
  say(`(subscription ${status}; alice no longer has @VIP)`);
}
