import type { ComponentHandler } from '../../../discord/component';
import { ticketActor } from '../tickets.actor';
import { A, decodeListState, listView } from '../tickets.views';

/** Paging buttons of /ticket list; the filters travel in the custom id, access is re-checked on every page. */
export default {
  action: A.list,
  async execute(interaction, arg, ctx) {
    if (!interaction.isButton()) return;
    const actor = await ticketActor(interaction, ctx);
    const state = decodeListState(arg);
    const page = await ctx.services.tickets.list(actor, state);
    await interaction.update(listView(page, state, actor));
  },
} satisfies ComponentHandler;
