import {
  InteractionResponseType,
  type APIApplicationCommandOptionChoice,
  type APIInteraction,
  type APIModalInteractionResponseCallbackData,
} from 'discord-api-types/v10';
import type { EmuMessage, EmuUser } from './discord-state';

/** Everything the emulator learned about one interaction it sent to the bot. */
export interface InteractionRecord {
  id: string;
  token: string;
  payload: APIInteraction;
  user: EmuUser;
  channelId: string;
  guildId: string | null;
  /** performance.now() when INTERACTION_CREATE left: the 3 s initial-response deadline runs on real time. */
  dispatchedAt: number;
  /** The world clock when it was created: the 15-minute token lifetime runs on it, so tests can advance it. */
  createdAt: number;
  ackedAt?: number;
  responseType?: InteractionResponseType;
  /** The message `@original` points at: a reply, a deferred placeholder, or the clicked message (updates). */
  original?: EmuMessage;
  sourceMessage?: EmuMessage;
  /** First message the user could actually read (not a "thinking…" placeholder). */
  visible?: EmuMessage;
  followUps: EmuMessage[];
  modal?: APIModalInteractionResponseCallbackData;
  choices?: APIApplicationCommandOptionChoice[];
  listeners: Set<() => void>;
}

export function notify(record: InteractionRecord): void {
  for (const listener of [...record.listeners]) listener();
}

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * What a test holds after sending an interaction. Getters read live state; the async methods wait for the bot.
 */
export class InteractionResult {
  constructor(readonly record: InteractionRecord) {}

  get id(): string {
    return this.record.id;
  }
  get token(): string {
    return this.record.token;
  }
  get user(): EmuUser {
    return this.record.user;
  }
  get acked(): boolean {
    return this.record.ackedAt !== undefined;
  }
  get responseType(): InteractionResponseType | undefined {
    return this.record.responseType;
  }
  get deferred(): boolean {
    return (
      this.record.responseType === InteractionResponseType.DeferredChannelMessageWithSource ||
      this.record.responseType === InteractionResponseType.DeferredMessageUpdate
    );
  }
  /** Milliseconds from INTERACTION_CREATE leaving the emulator to the bot's callback arriving. */
  get ackLatencyMs(): number | undefined {
    return this.record.ackedAt === undefined ? undefined : this.record.ackedAt - this.record.dispatchedAt;
  }
  get original(): EmuMessage | undefined {
    return this.record.original;
  }
  get followUps(): readonly EmuMessage[] {
    return this.record.followUps;
  }
  get shownModal(): APIModalInteractionResponseCallbackData | undefined {
    return this.record.modal;
  }
  /** Every message this interaction produced that a user can read, in order. */
  get messages(): EmuMessage[] {
    const all = [this.record.visible, ...this.record.followUps].filter((m): m is EmuMessage => m !== undefined);
    return [...new Set(all)].filter((m) => !m.deleted);
  }

  /** Resolves with the ack latency once the bot answered the callback (any type). */
  ack(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<number> {
    return this.waitFor(() => this.ackLatencyMs, timeoutMs, 'an interaction callback');
  }

  /**
   * The first visible reply: an immediate reply or update, or — after a deferral — the edited original or the
   * first follow-up. The returned message is live and reflects later edits.
   */
  reply(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<EmuMessage> {
    return this.waitFor(
      () => {
        if (this.record.visible) return this.record.visible;
        if (this.record.modal) {
          throw new Error(`the bot answered with modal "${this.record.modal.custom_id}" instead of a message; use modal()`);
        }
        if (this.record.choices) throw new Error('the bot answered with autocomplete choices; use choices()');
        return undefined;
      },
      timeoutMs,
      'a visible reply',
    );
  }

  modal(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<APIModalInteractionResponseCallbackData> {
    return this.waitFor(() => this.record.modal, timeoutMs, 'a modal');
  }

  choices(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<APIApplicationCommandOptionChoice[]> {
    return this.waitFor(() => this.record.choices, timeoutMs, 'autocomplete choices');
  }

  /** Waits for the n-th follow-up (0-based). */
  followUp(index = 0, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<EmuMessage> {
    return this.waitFor(() => this.record.followUps[index], timeoutMs, `follow-up #${index}`);
  }

  /** Waits until `check` holds on this interaction's state (e.g. an edit after a progress message). */
  until(check: (result: InteractionResult) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    return this.waitFor(() => (check(this) ? true : undefined), timeoutMs, 'the condition').then(() => undefined);
  }

  private waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        try {
          const value = probe();
          if (value === undefined) return false;
          finish();
          resolve(value);
        } catch (err) {
          finish();
          reject(err);
        }
        return true;
      };
      const finish = () => {
        clearTimeout(timer);
        this.record.listeners.delete(listener);
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} to interaction ${this.describe()}`));
      }, timeoutMs);
      this.record.listeners.add(listener);
      check();
    });
  }

  private describe(): string {
    const data = this.record.payload.data as { name?: string; custom_id?: string } | undefined;
    const label = data?.name ? `/${data.name}` : (data?.custom_id ?? String(this.record.payload.type));
    const state =
      this.record.responseType === undefined ? 'never acknowledged' : `response type ${this.record.responseType}`;
    return `${label} (${state}, ${this.record.followUps.length} follow-ups)`;
  }
}
