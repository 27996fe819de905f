import { describe, expect, it } from 'vitest';
import { renderMessage } from '../../emulators/discord/render-message';
import { Factory } from '../../testing/factories';
import { useOtherShardWorld } from '../../testing/other-shard';

// Jobs run on whichever replica takes their lock, and a replica holds only its own shards' guilds. The fault suite
// found the airdrop-expiry job failing to end airdrop messages in the other replicas' guilds ("not a text channel"):
// discord.js cannot build a channel of a guild it does not hold unless told to accept the unknown guild.
const world = useOtherShardWorld();

describe('airdrop expiry on a replica that does not hold the guild', () => {
  it('ends the airdrop message in a guild on another shard', async () => {
    const { emu, bot, other } = world;
    const { ctx, t } = bot;
    expect(bot.client.guilds.cache.has(other.id)).toBe(false);
    const { creator, channel, message } = emu.inGuild(other, () => {
      const channel = emu.channel('general');
      // The /airdrop reply the replica holding that shard posted.
      return { creator: emu.user('dora'), channel, message: emu.say(emu.bot, channel, 'dora started an airdrop') };
    });
    await new Factory(t.db).balance(await new Factory(t.db).user({ discordId: creator.id, username: creator.username }), { amount: 1_000_000_000n, key: 'fund-dora' });
    const { airdrop } = await ctx.services.ledger.createAirdrop({
      interactionId: '990000000000000001',
      creator: { discordId: creator.id, username: creator.username },
      amount: '0.2',
      claims: 2,
      durationSeconds: 60,
      guildId: other.id,
      channelId: channel.id,
    });
    await ctx.services.ledger.setAirdropMessage(airdrop.id, channel.id, message.id);
    await t.db.updateTable('airdrops').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', airdrop.id).execute();

    expect(await bot.app.jobs.runNow('airdrop-expiry')).toMatchObject({ status: 'ok', result: { expired: 1, notUpdated: 0 } });
    expect(renderMessage(message)).toContain('0/2 claimed. Expired — the rest went back to the creator.');
  });
});
