import bs58 from 'bs58';
import { ButtonStyle, ComponentType, type APIButtonComponentWithURL } from 'discord.js';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../app-context';
import type { EmuMessage, EmuUser } from '../../emulators/discord';
import { failOnEmulatorGaps } from '../../emulators/discord/vitest-helpers';
import { startTestApp, type TestApp } from '../../testing/test-app';
import type { TestDatabase } from '../../testing/test-db';

let t: TestDatabase;
let ctx: AppContext;
let baseUrl: string;
let bot: TestApp;

beforeAll(async () => {
  // The real app: its links point at where its HTTP server really listens, and its wallet notifier edits the reply.
  bot = await startTestApp();
  ({ ctx, t } = bot);
  baseUrl = bot.app.httpUrl;
});

afterAll(async () => {
  await bot?.close();
});

failOnEmulatorGaps(() => bot?.emu);

const keypair = () => {
  const kp = nacl.sign.keyPair();
  return { ...kp, address: bs58.encode(kp.publicKey) };
};

function linkButton(message: EmuMessage): APIButtonComponentWithURL {
  const row = message.components?.[0];
  const button = row?.type === ComponentType.ActionRow ? row.components[0] : undefined;
  if (button?.type !== ComponentType.Button || button.style !== ButtonStyle.Link) throw new Error('no link button');
  return button;
}

/** The text between the first ``` fences of a reply. */
const codeBlock = (content: string) => /```\n([\s\S]*?)\n```/.exec(content)?.[1] ?? '';

const dmsTo = (user: EmuUser) => bot.emu.channelMessages(user).map((m) => m.content);

describe('/wallet through the Discord emulator', () => {
  it('link → page API sign → verify: DB row, DM, and the ephemeral reply is edited', async () => {
    const alice = bot.emu.user('alice');
    const reply = await bot.emu.runCommand(alice, '/wallet link').reply();
    expect(reply.ephemeral).toBe(true);
    const url = linkButton(reply).url;
    expect(url).toMatch(new RegExp(`^${baseUrl}/link/[1-9A-HJ-NP-Za-km-z]{21,22}$`));
    expect(reply.content).toContain('<your wallet address>');
    expect(reply.content).toContain(`Discord user @alice (id ${alice.id})`);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Link a Solana wallet to @alice');

    const nonce = url.split('/').pop()!;
    const kp = keypair();
    const { message } = (await (await fetch(`${baseUrl}/api/wallet/message?nonce=${nonce}&address=${kp.address}`)).json()) as { message: string };
    expect(message).toBe(codeBlock(reply.content).replace('<your wallet address>', kp.address));
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(message), kp.secretKey));
    const res = await fetch(`${baseUrl}/api/wallet/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nonce, address: kp.address, signature }),
    });
    expect(res.status).toBe(200);

    await expect.poll(() => dmsTo(alice)).toEqual([expect.stringContaining(`Wallet \`${kp.address}\` is now linked`)]);
    await expect.poll(() => reply.content).toBe(`✅ Wallet \`${kp.address}\` is now linked to your Discord account.`);
    expect(reply.components).toEqual([]);
    // Neither the DM nor the reply edit may ping: both went out with mentions switched off.
    const dmChannel = bot.emu.channelMessages(alice)[0]!.channel_id;
    const sent = bot.emu.requests.filter((r) => (r.method === 'POST' && r.path.includes(`/channels/${dmChannel}/messages`)) || (r.method === 'PATCH' && r.path.includes('/webhooks/')));
    expect(sent.map((r) => r.body)).toEqual([
      expect.objectContaining({ allowed_mentions: { parse: [] } }),
      expect.objectContaining({ allowed_mentions: { parse: [] } }),
    ]);
    const status = await bot.emu.runCommand(alice, '/wallet status').reply();
    expect(status.content).toMatch(new RegExp(`^Linked wallet: \`${kp.address}\` \\(verified <t:\\d+:R>\\)\\.$`));
  });

  it('link with address shows the exact text; /wallet verify with a CLI-style signature links it', async () => {
    const bob = bot.emu.user('bob');
    const kp = keypair();
    const reply = await bot.emu.runCommand(bob, '/wallet link', { address: kp.address }).reply();
    const text = codeBlock(reply.content);
    expect(text.split('\n')[1]).toBe(kp.address);
    const signature = Buffer.from(nacl.sign.detached(Buffer.from(text), kp.secretKey)).toString('base64');
    const verified = await bot.emu.runCommand(bob, '/wallet verify', { address: kp.address, signature }).reply();
    expect(verified.ephemeral).toBe(true);
    expect(verified.content).toBe(`✅ Wallet \`${kp.address}\` is now linked to your account.`);
    await expect.poll(() => reply.content).toMatch(/is now linked/);
    await expect.poll(() => dmsTo(bob).length).toBe(1);
    const reg = await t.db.selectFrom('wallet_registrations').select('message_data').where('address', '=', kp.address).executeTakeFirstOrThrow();
    expect(reg.message_data).toMatchObject({ message: text, via: 'command' });
  });

  it('/wallet verify errors are ephemeral and specific', async () => {
    const carol = bot.emu.user('carol');
    const kp = keypair();
    const sig = bs58.encode(new Uint8Array(64));
    const none = await bot.emu.runCommand(carol, '/wallet verify', { address: kp.address, signature: sig }).reply();
    expect(none.content).toBe('❌ You have no open wallet link: run /wallet link first.');

    const daveLink = await bot.emu.runCommand(bot.emu.user('dave'), '/wallet link').reply();
    const daveNonce = linkButton(daveLink).url.split('/').pop()!;
    const other = await bot.emu.runCommand(carol, '/wallet verify', { address: kp.address, signature: sig, nonce: daveNonce }).reply();
    expect(other.content).toBe("❌ That link was issued to another Discord account; run /wallet link to get your own.");

    await bot.emu.runCommand(carol, '/wallet link').reply();
    const wrong = await bot.emu.runCommand(carol, '/wallet verify', { address: kp.address, signature: sig }).reply();
    expect(wrong.ephemeral).toBe(true);
    expect(wrong.content).toMatch(/^❌ The signature does not match/);
    const malformed = await bot.emu.runCommand(carol, '/wallet verify', { address: 'abc0', signature: sig }).reply();
    expect(malformed.content).toMatch(/^❌ That is not a Solana address/);
    expect(await t.db.selectFrom('wallet_registrations').selectAll().execute()).not.toContainEqual(expect.objectContaining({ address: kp.address }));
  });

  it('/wallet link in a tight loop: the 4th within 10 minutes gets an ephemeral "try again in …" and no new link', async () => {
    const frank = bot.emu.user('frank');
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await bot.emu.runCommand(frank, '/wallet link').reply());
    const nonces = await t.db.selectFrom('registration_nonces').select('nonce').where('discord_id', '=', frank.id).execute();
    const refused = await bot.emu.runCommand(frank, '/wallet link').reply();
    expect(refused.ephemeral).toBe(true);
    expect(refused.content).toMatch(/^❌ You asked for 3 wallet links in the last 10 minutes; try again in \d+ (s|min)\./);
    expect(refused.components ?? []).toEqual([]);
    expect(await t.db.selectFrom('registration_nonces').select('nonce').where('discord_id', '=', frank.id).execute()).toEqual(nonces);
    // The newest link from before still opens.
    expect((await fetch(linkButton(replies[2]!).url)).status).toBe(200);
  });

  it('/wallet unlink asks for confirmation; cancel keeps, confirm removes', async () => {
    const erin = bot.emu.user('erin');
    const kp = keypair();
    const link = await bot.emu.runCommand(erin, '/wallet link', { address: kp.address }).reply();
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(codeBlock(link.content)), kp.secretKey));
    await bot.emu.runCommand(erin, '/wallet verify', { address: kp.address, signature }).reply();

    const ask = await bot.emu.runCommand(erin, '/wallet unlink').reply();
    expect(ask.content).toContain(`Unlink \`${kp.address}\``);
    await bot.emu.click(erin, ask, 'wallet-unlink:cancel').reply();
    expect(ask.content).toBe('Kept your wallet linked.');
    expect((await ctx.services.wallets.status(erin.id)).wallet?.address).toBe(kp.address);

    const again = await bot.emu.runCommand(erin, '/wallet unlink').reply();
    await bot.emu.click(erin, again, `wallet-unlink:${kp.address}`).reply();
    expect(again.content).toBe(`Unlinked \`${kp.address}\`. Use \`/wallet link\` to link a wallet again.`);
    expect((await ctx.services.wallets.status(erin.id)).wallet).toBeUndefined();
    expect(await t.db.selectFrom('chain_credentials').selectAll().where('address', '=', kp.address).execute()).toEqual([]);
    const nothing = await bot.emu.runCommand(erin, '/wallet unlink').reply();
    expect(nothing.content).toBe('❌ You have no linked wallet.');
  });
});
