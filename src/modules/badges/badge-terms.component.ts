import type { ComponentHandler } from '../../discord/component';
import { termsMessage, TERMS_ACCEPT_ACTION } from './badges.views';

/** The Accept button of /badge terms; the arg is the terms version shown (a newer one refuses a stale click). */
export default {
  action: TERMS_ACCEPT_ACTION,
  async execute(interaction, version, ctx) {
    if (!interaction.isButton()) return;
    const accepted = await ctx.services.badges.acceptTerms({ discordId: interaction.user.id, username: interaction.user.username }, version);
    await interaction.update(termsMessage(accepted.version, accepted.acceptedAt));
  },
} satisfies ComponentHandler;
