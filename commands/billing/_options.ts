import type { ChatInputCommandInteraction, SlashCommandStringOption } from 'discord.js';
import { CYCLES, type Cycle } from '../../src/modules/billing/billing.tables';

// The billing commands' shared option shapes (/plan, /coupon, /subscribe): one definition of the cycle choices and of
// a money amount with its currency, so the commands cannot drift apart. `_`-prefixed: support code, not a command.

const cycleChoices = CYCLES.map((c) => ({ name: c.replace('_', '-'), value: c }));

/** `cycle`: one of the billing cycles, as a choice list. */
export const cycleOption = (description: string) => (o: SlashCommandStringOption) => o.setName('cycle').setDescription(description).addChoices(...cycleChoices);

/** A decimal amount typed by staff ("0.5"), parsed by the currency's rules in the service. */
export const amountOption = (name: string, description: string, required = false) => (o: SlashCommandStringOption) =>
  o.setName(name).setDescription(description).setRequired(required).setMaxLength(32);

/** `currency`: a configured currency code (default SOL where the command says so). */
export const currencyOption = (description: string) => (o: SlashCommandStringOption) => o.setName('currency').setDescription(description).setMaxLength(16);

/** The chosen cycle (the choice list guarantees a valid one), or `fallback`. */
export function cycleOf<T extends Cycle | null>(i: ChatInputCommandInteraction, fallback: T): Cycle | T {
  return (i.options.getString('cycle') as Cycle | null) ?? fallback;
}
