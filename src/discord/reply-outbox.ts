import {
  ApplicationCommandType,
  ChatInputCommandInteraction,
  DiscordAPIError,
  InteractionType,
  RESTJSONErrorCodes,
  InteractionWebhook,
  type APIInteraction,
  type Client,
  type InteractionDeferReplyOptions,
  type InteractionEditReplyOptions,
  type InteractionReplyOptions,
  type RepliableInteraction,
} from 'discord.js';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema';
import type { Logger } from '../logger';
import { ERROR_MARK } from './error-reply';
import type { InteractionRegistry } from './interaction-registry';
import * as repo from './reply-outbox.repository';

/** Discord keeps an interaction token 15 minutes; a little less leaves time for the last answer to arrive. */
const TOKEN_LIFETIME_SECONDS = 14 * 60;
// Short: a replica killed while answering must not hold its rows long (a second answer of a replay is the same answer).
const LEASE_SECONDS = 20;
const MAX_ATTEMPTS = 3;
const RAW_KEPT = 1_000;

export const INTERRUPTED_TEXT =
  `${ERROR_MARK} The bot restarted before it could finish this, so it may or may not have been done. Check the result ` +
  '(e.g. `/balance`, `/history`) before trying again.';

export interface TrackedInteraction {
  /**
   * The handler is done. Answered (or never deferred): its outbox row, if any, goes; not answered (the answer failed
   * to send): the row stays for another pass.
   */
  finish(answered: boolean): Promise<void>;
}

export interface ReplyOutbox {
  /**
   * Records the interaction in the outbox as soon as it is deferred (the member then sees "thinking…" and waits for
   * an answer only this process knows it owes); `finish(true)` removes it.
   */
  track(interaction: RepliableInteraction): TrackedInteraction;
  /**
   * Answers deferrals whose process died, every `intervalMs`: `replay` runs a command that is idempotent per
   * interaction id again on a copy of the interaction (resolving true once it answered); any other deferral is told it
   * was interrupted.
   */
  start(replay: (interaction: ChatInputCommandInteraction) => Promise<boolean>, intervalMs?: number): void;
  /** One recovery pass (the interval runs it; tests call it directly). Resolves with how many it answered. */
  recoverNow(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The reply outbox: a deferred interaction is a promise to the member ("thinking…") that only the deferring process
 * remembers. Killed in between, that promise would be broken although the token stays valid for 15 minutes, and a
 * member who retries an applied but unanswered /withdraw or /deposit gets a second one. So a deferral is written down
 * (with the INTERACTION_CREATE data, captured from the gateway), deleted once answered, and any replica answers what
 * is left after `recoverAfterSeconds`.
 */
export function createReplyOutbox(o: {
  client: Client;
  db: Kysely<DB>;
  log: Logger;
  registry: InteractionRegistry;
  recoverAfterSeconds: number;
}): ReplyOutbox {
  const log = o.log.child({ component: 'reply-outbox' });
  // The raw INTERACTION_CREATE data by interaction id: discord.js emits it just before it builds the interaction.
  const raws = new Map<string, APIInteraction>();
  o.client.on('raw', (packet: { t?: string; d?: unknown }) => {
    if (packet.t !== 'INTERACTION_CREATE') return;
    const data = packet.d as APIInteraction;
    raws.set(data.id, data);
    if (raws.size > RAW_KEPT) raws.delete(raws.keys().next().value!);
  });
  /** Interactions this process is still handling: never recovered from under their own handler. */
  const inFlight = new Set<string>();
  let replay: ((interaction: ChatInputCommandInteraction) => Promise<boolean>) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function answerOne(row: repo.PendingReply): Promise<void> {
    const payload = row.payload as APIInteraction;
    const command =
      payload.type === InteractionType.ApplicationCommand && payload.data.type === ApplicationCommandType.ChatInput
        ? o.registry.commands.get(payload.data.name)
        : undefined;
    const webhook = new InteractionWebhook(o.client as Client<true>, row.application_id, row.token);
    try {
      await webhook.fetchMessage('@original');
    } catch (err) {
      // 10008 Unknown Message: the process died before Discord took its deferral. 10015 Unknown Webhook: the deferral
      // reached Discord after its 3 s window (a paused or overloaded replica; the row outlived the refusal when the
      // database was down at that moment), so Discord forgot the interaction. Either way the member was shown
      // "interaction failed" and no answer is owed.
      if (err instanceof DiscordAPIError && (err.code === RESTJSONErrorCodes.UnknownMessage || err.code === RESTJSONErrorCodes.UnknownWebhook)) {
        await repo.markAnswered(o.db, row.interaction_id);
        log.info({ interaction: row.interaction_id }, 'left deferral was never acknowledged; dropped');
        return;
      }
      throw err;
    }
    if (command?.replayable && replay) {
      if (!(await replay(replayedInteraction(o.client, payload)))) throw new Error('the replayed command did not answer');
    } else {
      await webhook.editMessage('@original', {
        content: INTERRUPTED_TEXT,
        embeds: [],
        components: [],
        files: [],
      });
    }
    await repo.markAnswered(o.db, row.interaction_id);
    log.info({ interaction: row.interaction_id, command: command?.name, replayed: Boolean(command?.replayable), attempt: row.attempts }, 'answered a deferral its process left');
  }

  async function recover(): Promise<number> {
    await repo.dropExpired(o.db, TOKEN_LIFETIME_SECONDS);
    const due = await repo.claimDue(o.db, { olderThanSeconds: o.recoverAfterSeconds, leaseSeconds: LEASE_SECONDS, limit: 20, exclude: [...inFlight] });
    let answered = 0;
    for (const row of due) {
      try {
        await answerOne(row);
        answered++;
      } catch (err) {
        log.warn({ err, interaction: row.interaction_id, attempt: row.attempts }, 'could not answer a left deferral');
        if (row.attempts >= MAX_ATTEMPTS) await repo.markAnswered(o.db, row.interaction_id).catch(() => undefined);
      }
    }
    return answered;
  }

  const outbox: ReplyOutbox = {
    track(interaction) {
      const id = interaction.id;
      inFlight.add(id);
      let recorded = false;
      if (!raws.has(id)) log.debug({ interaction: id }, 'no gateway payload: a deferral of this interaction cannot be replayed');
      const defer = interaction.deferReply.bind(interaction);
      // Written down before Discord takes the deferral: a crash right after the member sees "thinking…" must not find
      // the row missing. A crash before Discord took it leaves a row for an interaction nobody acknowledged; recovery
      // asks Discord first and drops those.
      const recordingDefer = async (options?: InteractionDeferReplyOptions) => {
        const payload = raws.get(id);
        if (payload) {
          try {
            await repo.recordDeferral(o.db, { interactionId: id, applicationId: interaction.applicationId, token: interaction.token, payload });
            recorded = true;
            log.debug({ interaction: id }, 'deferral recorded');
          } catch (err) {
            log.warn({ err, interaction: id }, 'deferral not recorded: this answer is lost if the process dies');
          }
        }
        try {
          return await defer(options);
        } catch (err) {
          // Not acknowledged (too late, or Discord refused): nothing is owed.
          if (recorded) await repo.markAnswered(o.db, id).catch(() => undefined);
          recorded = false;
          throw err;
        }
      };
      interaction.deferReply = recordingDefer as typeof interaction.deferReply;
      return {
        async finish(answered) {
          inFlight.delete(id);
          raws.delete(id);
          if (!recorded || !answered) return;
          // Left behind, the row would have a finished interaction answered a second time (a replay says the same;
          // the interrupted notice would overwrite the answer), so one retry rides out a dropped connection.
          await repo.markAnswered(o.db, id).catch(async () => {
            await new Promise((r) => setTimeout(r, 1_000));
            await repo.markAnswered(o.db, id).catch((err: unknown) => log.warn({ err, interaction: id }, 'answered deferral left in the outbox'));
          });
        },
      };
    },
    start(replayFn, intervalMs = 5_000) {
      replay = replayFn;
      timer = setInterval(() => {
        if (running) return;
        running = recover()
          .catch((err: unknown) => {
            log.warn({ err }, 'reply outbox pass failed');
            return 0;
          })
          .finally(() => (running = undefined));
      }, intervalMs);
      timer.unref();
    },
    recoverNow: recover,
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
  return outbox;
}

/**
 * The interaction again, from its INTERACTION_CREATE data, as its handler left it: deferred. Deferring again does
 * nothing, and a reply becomes the edit of the deferred one (its visibility was fixed by the first deferral).
 */
function replayedInteraction(client: Client, payload: APIInteraction): ChatInputCommandInteraction {
  const interaction = Reflect.construct(ChatInputCommandInteraction, [client, payload]) as ChatInputCommandInteraction;
  interaction.deferred = true;
  interaction.deferReply = (async () => undefined) as unknown as typeof interaction.deferReply;
  interaction.reply = (async (options: string | InteractionReplyOptions) => {
    const { flags: _flags, ...rest } = typeof options === 'string' ? { content: options } : (options as InteractionReplyOptions & { flags?: unknown });
    return interaction.editReply(rest as InteractionEditReplyOptions);
  }) as unknown as typeof interaction.reply;
  return interaction;
}
