import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bs58 from 'bs58';
import nacl from 'tweetnacl';
import { parseDecimalAmount } from '../src/chain/amounts';
import { parseTransferRequestUrl } from '../src/chain/solana-pay';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { isErrorReply } from '../src/discord/error-reply';
import { deployCommands } from '../src/discord/deploy-commands';
import type { EmuMessage } from '../src/emulators/discord';
import { renderMessage } from '../src/emulators/discord/render-message';
import { ConsoleSession } from '../src/sandbox/console';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox';
import { freePort } from '../src/db/embedded-postgres';
import { membershipSteps } from './demo-membership';

// The wallet Alice links in the demo (a fresh key each run).
const demoKeypair = nacl.sign.keyPair();
const demoWallet = { address: bs58.encode(demoKeypair.publicKey), secretKey: demoKeypair.secretKey };

/**
 * `npm run demo`: a scripted sandbox session, non-interactive. Every step must behave (an error reply fails the
 * demo unless the line ends with `# expect-error`); exits 0 when all did. Steps are console lines, or functions
 * for what a person would do outside Discord (pay from a wallet, sign a message); a function may return more
 * console lines to run.
 */
type Step = string | ((sb: Sandbox) => Promise<string[] | void>);

const steps: Step[] = [
  '# --- general ---',
  'as alice /help',
  'as alice /ping',

  '# --- wallet link (signed in-process, as a CLI user would) ---',
  `as alice /wallet link address:${demoWallet.address}`,
  async (sb) => {
    // Alice copies the exact text from the bot's ephemeral reply and signs it with her key outside Discord.
    const alice = sb.discord.user('alice');
    const reply = sb.discord.replies.filter((m) => m.visibleTo === alice.id && m.content.includes('```')).at(-1);
    const text = /```\n([\s\S]*?)\n```/.exec(reply?.content ?? '')?.[1];
    if (!text) throw new Error('no message to sign in the /wallet link reply');
    const signature = bs58.encode(nacl.sign.detached(Buffer.from(text, 'utf8'), demoWallet.secretKey));
    return [`as alice /wallet verify address:${demoWallet.address} signature:${signature}`];
  },
  'as alice /wallet status',
  `as bob /wallet verify address:${demoWallet.address} signature:${'1'.repeat(64)} # expect-error`,

  '# --- deposit (paid from an emulator wallet with the Solana Pay link) → tip → withdraw to the linked wallet ---',
  'as alice /deposit amount:2',
  async (sb) => {
    // Alice pays the link from a wallet on the emulated cluster, as a Solana Pay wallet would (reference included).
    const alice = sb.discord.user('alice');
    const reply = sb.discord.replies.filter((m) => m.visibleTo === alice.id && m.content.includes('solana:')).at(-1);
    const url = /`(solana:[^`]+)`/.exec(reply?.content ?? '')?.[1];
    if (!url) throw new Error('no Solana Pay link in the /deposit reply');
    const req = parseTransferRequestUrl(url);
    const payer = sb.solana.newWallet(5_000_000_000n);
    await sb.solana.transferSol(payer, req.recipient, parseDecimalAmount(req.amount!, 9), { reference: req.references });
    // deposit-watch runs every 15 s; run it now rather than wait (a scheduled run holding its lock is fine too).
    const balance = () => sb.app.ctx.services.ledger.balance(alice.id, 'SOL');
    for (let i = 0; i < 100 && (await balance()) === 0n; i++) {
      await sb.app.jobs.runNow('deposit-watch');
      if ((await balance()) === 0n) await new Promise((r) => setTimeout(r, 100));
    }
    if ((await balance()) === 0n) throw new Error('the deposit was not credited');
    process.stdout.write(`(wallet ${payer.publicKey.toBase58()} paid ${req.amount} SOL; deposit-watch credited it)\n`);
  },
  'as alice /balance',
  'as alice /tip user:@bob amount:0.5',
  'as alice /withdraw amount:1',
  async (sb) => {
    const paid = sb.solana.balance(demoWallet.address);
    if (paid !== 1_000_000_000n) throw new Error(`expected a 1 SOL payout on chain; ${demoWallet.address} holds ${paid} lamports`);
    process.stdout.write(`(on chain: ${demoWallet.address} received 1 SOL from the treasury)\n`);
  },
  'as alice /withdraw amount:5 # expect-error',
  'as alice /balance',

  '# --- support tickets ---',
  async (sb) => {
    // Staff: Manage Server on the emulated guild.
    sb.discord.user('sam', { admin: true });
  },
  'as alice /ticket open category:wallet priority:high',
  'as alice modal ticket-open:wallet:high subject="Deposit missing" description="I sent 1 SOL an hour ago and it is not credited"',
  'as bob /ticket claim id:1 # expect-error',
  'as sam /ticket claim id:1',
  'as sam /ticket reply id:1 message:"Looking into it now"',
  // Written straight into the ticket thread (no command): the bot records it into the transcript.
  'as alice say #ticket-1-deposit-missing "It was sent from my Phantom wallet, if that helps"',
  async (sb) => {
    const staff = { discordId: sb.discord.user('sam').id, username: 'sam', guildId: sb.discord.guild.id, isStaff: true };
    const recorded = async () => (await sb.app.ctx.services.tickets.transcript(1n, staff)).entries.some((e) => e.body.includes('Phantom wallet'));
    for (let i = 0; i < 100 && !(await recorded()); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await recorded())) throw new Error("alice's thread message is not in the ticket transcript");
    process.stdout.write("(transcript: alice's thread message was recorded)\n");
  },
  'as sam /ticket request-close id:1',
  'as alice click ticket-confirm-close:1',
  'as alice click ticket-rate:1:5',
  'as alice /ticket transcript id:1',

  '# --- ledger: funding, tips, large-tip confirmation, history, airdrop, rain ---',
  // /admin credit is an operator's (BOT_OPERATOR_IDS; the sandbox makes `admin` one): Manage Server is not enough.
  'as sam /admin credit user:@alice amount:25 # expect-error',
  'as admin /admin credit user:@alice amount:25 reason:"demo funding"',
  'as alice /admin credit user:@alice amount:1000 # expect-error',
  'as alice /tip user:@bob amount:1.5 note:"thanks for the help"',
  // Several recipients: a real Discord client turns typed @mentions into <@id>.
  async (sb) => [`as alice /tip user:@bob users:"<@${sb.discord.user('carol').id}> <@${sb.discord.user('dave').id}>" amount:0.3`],
  'as alice /tip user:@bob amount:1e-9 # expect-error',
  'as bob /tip user:@alice amount:100 # expect-error',
  'as alice /tip user:@bob amount:12',
  'as alice click tip-confirm:1',
  'as bob /balance',
  'as alice /history',
  'as alice /airdrop amount:1 claims:2 duration:10m',
  'as bob click airdrop-claim:1',
  'as bob click airdrop-claim:1 # expect-error',
  'as carol click airdrop-claim:1',
  'as dave /balance',
  'as alice /rain amount:0.2 count:2',
  'as alice /leaderboard period:day',
  'as bob /tip-confirm-above amount:0.5',
  'as bob /tip user:@alice amount:1',
  'as bob click tip-cancel:2',

  '# --- membership: a plan sells a role, bought from the balance, reminded, expired, role taken back ---',
  ...membershipSteps,

  '# --- a second server adds the bot: its own support channel and staff, no power over the bot ---',
  'as alice /setup tickets channel:#general # expect-error',
  'as sam /setup tickets channel:#general categories:general,wallet,billing',
  'as admin /setup show',
  secondGuild,
  'as admin /audit action:guild.settings',
  '# --- trust badge: terms → claim (minted on chain to the linked wallet) → show; ratings ---',
  'as bob /badge claim # expect-error',
  'as alice /badge terms',
  async (sb) => [`as alice click badge-terms:${sb.app.ctx.config.BADGE_TERMS_VERSION}`],
  'as alice /badge claim',
  async (sb) => {
    const badge = await sb.app.ctx.services.badges.show(sb.discord.user('alice').id);
    if (badge?.status !== 'active' || !badge.mint) throw new Error(`expected an active badge, got ${badge?.status ?? 'none'}`);
    const meta = (await (await fetch(`${sb.app.httpUrl}/badges/${badge.mint}.json`)).json()) as { attributes: { trait_type: string; value: unknown }[] };
    const tier = meta.attributes.find((a) => a.trait_type === 'tier')?.value;
    process.stdout.write(`(on chain: soulbound badge ${badge.mint} in ${badge.wallet}; metadata JSON says tier ${String(tier)})\n`);
  },
  'as alice /badge show',
  'as alice /badge claim # expect-error',
  'as alice /rate user:@bob score:5 comment:"quick and fair"',
  'as alice /rate user:@bob score:4 # expect-error',
  'as alice /rate user:@alice score:5 # expect-error',
];

/**
 * A second guild joins (the console acts in the first one, so this step drives the emulator directly): its owner
 * points tickets at their own channel, a member's ticket opens there, and the owner's Manage Server buys nothing
 * bot-wide.
 */
async function secondGuild(sb: Sandbox): Promise<void> {
  const emu = sb.discord;
  const guild = emu.addGuild('Second Server');
  // Commands are deployed per guild in the sandbox (DISCORD_GUILD_ID); a new guild gets them the same way.
  await deployCommands({ rest: sb.app.discord!.client.rest, appId: emu.appId, commands: sb.app.discord!.registry, guildId: guild.id });
  const { olga, helpDesk, pat } = emu.inGuild(guild, () => ({
    olga: emu.user('olga', { admin: true }),
    helpDesk: emu.channel('help-desk'),
    pat: emu.user('pat'),
  }));
  const show = (who: string, command: string, message: EmuMessage) => process.stdout.write(`> [Second Server] as ${who} ${command}
${renderMessage(message)}
`);
  const expectOk = (message: EmuMessage, what: string) => {
    if (isErrorReply(message.content)) throw new Error(`${what} answered with an error: ${message.content}`);
  };

  const setup = await emu.inGuild(guild, () => emu.runCommand(olga, '/setup tickets', { channel: helpDesk, categories: 'orders,general' })).reply();
  show('olga', '/setup tickets channel:#help-desk categories:orders,general', setup);
  expectOk(setup, '/setup in the second server');

  const shown = emu.inGuild(guild, () => emu.runCommand(pat, '/ticket open', { category: 'orders' }));
  const modal = await shown.modal();
  const opened = await emu.submitModal(pat, shown, modal.custom_id, { subject: 'Order missing', description: 'Paid yesterday' }).reply();
  show('pat', '/ticket open category:orders', opened);
  expectOk(opened, '/ticket open in the second server');
  const threadId = /<#(\d+)>/.exec(opened.content)?.[1];
  if (emu.channels.get(threadId ?? '')?.parentId !== helpDesk.id) throw new Error("the second server's ticket did not open in its #help-desk");
  process.stdout.write('(the ticket thread lives in Second Server #help-desk, not in the first server)\n');

  const credit = await emu.inGuild(guild, () => emu.runCommand(olga, '/admin credit', { user: olga, amount: '1000' })).reply();
  show('olga', '/admin credit user:@olga amount:1000', credit);
  if (!isErrorReply(credit.content)) throw new Error("the second server's owner was allowed to mint money");
}

const EXPECT_ERROR = /\s+#\s*expect-error\s*$/;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  // A throwaway embedded database (unless DATABASE_URL is set) so the demo never touches ./.data/pg.
  const dataDir = config.DATABASE_URL ? undefined : await mkdtemp(path.join(tmpdir(), 'solbound-demo-pg-'));
  const sandbox = await startSandbox(
    { ...config, HTTP_PORT: 0, ...(dataDir ? { PG_DATA_DIR: dataDir, PG_PORT: await freePort() } : {}) },
    log,
  );
  const session = new ConsoleSession(sandbox.discord);
  let failed = false;
  try {
    const queue = [...steps];
    while (queue.length) {
      const step = queue.shift()!;
      if (typeof step === 'function') {
        const more = await step(sandbox);
        if (more) queue.unshift(...more);
        continue;
      }
      const line = step.trim();
      if (!line) continue;
      if (line.startsWith('#')) {
        process.stdout.write(`\n${line}\n`);
        continue;
      }
      const expectError = EXPECT_ERROR.test(line);
      const command = line.replace(EXPECT_ERROR, '');
      const { output, isError } = await session.execute(command);
      process.stdout.write(`> ${command}\n${output}\n`);
      if (isError !== expectError) {
        throw new Error(`step "${command}" ${isError ? 'answered with an error' : 'was expected to fail but did not'}`);
      }
    }
    if (sandbox.discord.failures.length || sandbox.solana.failures.length) {
      throw new Error(`emulator gaps: ${[...sandbox.discord.failures, ...sandbox.solana.failures].join('; ')}`);
    }
    process.stdout.write('\ndemo: every step behaved\n');
  } catch (err) {
    failed = true;
    process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`);
  } finally {
    await sandbox.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

await main();
