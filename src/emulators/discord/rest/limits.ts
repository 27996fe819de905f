import { InteractionResponseType, MessageFlags } from 'discord-api-types/v10';

/**
 * Discord's documented payload limits, in one table, and the check that answers a violation the way Discord does:
 * 400, code 50035 "Invalid Form Body", with an `errors` object nested like the payload
 * (`{ "content": { "_errors": [{ "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length." }] } }`).
 *
 * Each row names the payload it applies to, a path into it (`[]` = every element), the rule, and the documentation
 * it comes from. Enforced for every request, independently of the spec conformance check (the spec is looser in
 * places: it allows 4,000 characters of `create_message` content).
 */

/** What a route's JSON body is, as far as the limits go. */
export type PayloadKind =
  /** A channel message (create/edit). */
  | 'message'
  /** A message sent through an interaction's webhook (follow-up, edit of the original). */
  | 'interaction-message'
  /** An interaction callback: a message, a modal or autocomplete choices depending on its type. */
  | 'interaction-callback'
  /** One application command (create). */
  | 'command'
  /** A list of application commands (bulk overwrite). */
  | 'commands';

type Shape = 'message' | 'modal' | 'autocomplete' | 'command';

export interface InnerError {
  code: string;
  message: string;
}

type Rule =
  | { kind: 'length'; min?: number; max: number }
  | { kind: 'check'; check: (value: unknown) => InnerError | undefined };

interface LimitRow {
  shape: Shape;
  path: string;
  rule: Rule;
  /** Where Discord documents the limit. */
  doc: string;
}

const DOCS = 'https://discord.com/developers/docs';
const MESSAGE_DOC = `${DOCS}/resources/message#create-message-jsonform-params`;
const EMBED_DOC = `${DOCS}/resources/message#embed-object-embed-limits`;
const COMPONENT_DOC = `${DOCS}/components/reference`;
const MODAL_DOC = `${DOCS}/interactions/receiving-and-responding#interaction-response-object-modal`;
const COMMAND_DOC = `${DOCS}/interactions/application-commands#application-command-object-application-command-structure`;
const OPTION_DOC = `${DOCS}/interactions/application-commands#application-command-object-application-command-option-structure`;
const MENTIONS_DOC = `${DOCS}/resources/message#allowed-mentions-object`;
const FLAGS_DOC = `${DOCS}/interactions/receiving-and-responding#interaction-response-object-messages`;

const max = (n: number): Rule => ({ kind: 'length', max: n });
const between = (min: number, n: number): Rule => ({ kind: 'length', min, max: n });
const check = (fn: (value: unknown) => InnerError | undefined): Rule => ({ kind: 'check', check: fn });

/** Discord's command and option name rule: 1–32 characters, lowercase where the script has case. */
const COMMAND_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const commandName = check((v) =>
  typeof v === 'string' && COMMAND_NAME.test(v) && v === v.toLowerCase() ? undefined : { code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' },
);

const INTERACTION_FLAGS = MessageFlags.SuppressEmbeds | MessageFlags.Ephemeral | MessageFlags.SuppressNotifications | MessageFlags.IsComponentsV2;
const interactionFlags = check((v) =>
  v === undefined || v === null || (typeof v === 'number' && (v & ~INTERACTION_FLAGS) === 0)
    ? undefined
    : { code: 'INTERACTION_RESPONSE_FLAGS_INVALID', message: 'Only SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS and IS_COMPONENTS_V2 can be set.' },
);

const MENTION_TYPES = ['roles', 'users', 'everyone'];
const allowedMentions = check((v) => {
  if (v === undefined || v === null) return undefined;
  const bad = (message: string): InnerError => ({ code: 'MESSAGE_ALLOWED_MENTIONS_INVALID', message });
  if (typeof v !== 'object' || Array.isArray(v)) return bad('Must be an object.');
  const { parse, users, roles, replied_user: repliedUser } = v as Record<string, unknown>;
  for (const [name, list] of [['parse', parse], ['users', users], ['roles', roles]] as const) {
    if (list !== undefined && !Array.isArray(list)) return bad(`${name} must be an array.`);
  }
  if (repliedUser !== undefined && typeof repliedUser !== 'boolean') return bad('replied_user must be a boolean.');
  const parsed = (parse ?? []) as unknown[];
  if (parsed.some((p) => typeof p !== 'string' || !MENTION_TYPES.includes(p))) return bad("parse values must be one of ('roles', 'users', 'everyone').");
  for (const [type, list] of [['users', users], ['roles', roles]] as const) {
    const ids = (list ?? []) as unknown[];
    if (ids.length > 100) return { code: 'BASE_TYPE_MAX_LENGTH', message: `${type}: Must be 100 or fewer in length.` };
    if (ids.length > 0 && parsed.includes(type)) {
      return { code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE', message: `parse:["${type}"] and ${type}: [ids...] are mutually exclusive.` };
    }
  }
  return undefined;
});

/** Title, description, field names and values, footer text and author name of all embeds together. */
const embedTotal = check((v) => {
  if (!Array.isArray(v)) return undefined;
  let total = 0;
  const len = (s: unknown) => (typeof s === 'string' ? s.length : 0);
  for (const e of v as Array<Record<string, unknown> | null>) {
    if (!e) continue;
    total += len(e.title) + len(e.description) + len((e.footer as { text?: unknown } | undefined)?.text) + len((e.author as { name?: unknown } | undefined)?.name);
    for (const f of (Array.isArray(e.fields) ? e.fields : []) as Array<{ name?: unknown; value?: unknown }>) total += len(f?.name) + len(f?.value);
  }
  return total > 6000 ? { code: 'MAX_EMBED_SIZE_EXCEEDED', message: 'Embed size exceeds maximum size of 6000' } : undefined;
});

/** Options nest up to subcommand group → subcommand → option; the same limits apply at every level. */
function optionRows(prefix: string): LimitRow[] {
  return [
    { shape: 'command', path: `${prefix}`, rule: max(25), doc: COMMAND_DOC },
    { shape: 'command', path: `${prefix}[].name`, rule: commandName, doc: OPTION_DOC },
    { shape: 'command', path: `${prefix}[].description`, rule: between(1, 100), doc: OPTION_DOC },
    { shape: 'command', path: `${prefix}[].choices`, rule: max(25), doc: OPTION_DOC },
    { shape: 'command', path: `${prefix}[].choices[].name`, rule: between(1, 100), doc: OPTION_DOC },
  ];
}

export const LIMITS: readonly LimitRow[] = [
  { shape: 'message', path: 'content', rule: max(2000), doc: MESSAGE_DOC },
  { shape: 'message', path: 'embeds', rule: max(10), doc: MESSAGE_DOC },
  { shape: 'message', path: 'embeds[].title', rule: max(256), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].description', rule: max(4096), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].fields', rule: max(25), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].fields[].name', rule: max(256), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].fields[].value', rule: max(1024), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].footer.text', rule: max(2048), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds[].author.name', rule: max(256), doc: EMBED_DOC },
  { shape: 'message', path: 'embeds', rule: embedTotal, doc: EMBED_DOC },
  { shape: 'message', path: 'components', rule: max(5), doc: `${COMPONENT_DOC}#action-row` },
  { shape: 'message', path: 'components[].components', rule: max(5), doc: `${COMPONENT_DOC}#action-row` },
  { shape: 'message', path: 'components[].components[].custom_id', rule: between(1, 100), doc: `${COMPONENT_DOC}#button` },
  { shape: 'message', path: 'components[].components[].label', rule: max(80), doc: `${COMPONENT_DOC}#button` },
  { shape: 'message', path: 'components[].components[].placeholder', rule: max(150), doc: `${COMPONENT_DOC}#string-select` },
  { shape: 'message', path: 'components[].components[].options', rule: max(25), doc: `${COMPONENT_DOC}#string-select` },
  { shape: 'message', path: 'components[].components[].options[].label', rule: max(100), doc: `${COMPONENT_DOC}#string-select-select-option-structure` },
  { shape: 'message', path: 'components[].components[].options[].value', rule: max(100), doc: `${COMPONENT_DOC}#string-select-select-option-structure` },
  { shape: 'message', path: 'components[].components[].options[].description', rule: max(100), doc: `${COMPONENT_DOC}#string-select-select-option-structure` },
  { shape: 'message', path: 'allowed_mentions', rule: allowedMentions, doc: MENTIONS_DOC },
  { shape: 'modal', path: 'custom_id', rule: between(1, 100), doc: MODAL_DOC },
  { shape: 'modal', path: 'title', rule: between(1, 45), doc: MODAL_DOC },
  { shape: 'modal', path: 'components', rule: between(1, 5), doc: MODAL_DOC },
  { shape: 'modal', path: 'components[].components[].custom_id', rule: between(1, 100), doc: `${COMPONENT_DOC}#text-input` },
  { shape: 'modal', path: 'components[].components[].label', rule: max(45), doc: `${COMPONENT_DOC}#text-input` },
  { shape: 'modal', path: 'components[].components[].value', rule: max(4000), doc: `${COMPONENT_DOC}#text-input` },
  { shape: 'modal', path: 'components[].components[].placeholder', rule: max(100), doc: `${COMPONENT_DOC}#text-input` },
  { shape: 'autocomplete', path: 'choices', rule: max(25), doc: `${DOCS}/interactions/receiving-and-responding#interaction-response-object-autocomplete` },
  { shape: 'autocomplete', path: 'choices[].name', rule: between(1, 100), doc: OPTION_DOC },
  { shape: 'command', path: 'name', rule: commandName, doc: COMMAND_DOC },
  { shape: 'command', path: 'description', rule: between(1, 100), doc: COMMAND_DOC },
  ...optionRows('options'),
  ...optionRows('options[].options'),
  ...optionRows('options[].options[].options'),
];

const FLAG_ROW: LimitRow = { shape: 'message', path: 'flags', rule: interactionFlags, doc: FLAGS_DOC };

/** Nested `errors` object for a 50035 answer, or undefined when the body is within every limit. */
export function checkLimits(kind: PayloadKind, body: unknown): Record<string, unknown> | undefined {
  const errors: Record<string, unknown> = {};
  for (const { shape, value, prefix, extra } of shapesOf(kind, body)) {
    for (const row of [...LIMITS.filter((r) => r.shape === shape), ...extra]) {
      for (const { path, value: v } of select(value, row.path)) {
        const error = apply(row.rule, v);
        if (error) addError(errors, [...prefix, ...path], error);
      }
    }
  }
  return Object.keys(errors).length ? errors : undefined;
}

function shapesOf(kind: PayloadKind, body: unknown): Array<{ shape: Shape; value: unknown; prefix: string[]; extra: LimitRow[] }> {
  if (body === null || typeof body !== 'object') return [];
  switch (kind) {
    case 'message':
      return [{ shape: 'message', value: body, prefix: [], extra: [] }];
    case 'interaction-message':
      return [{ shape: 'message', value: body, prefix: [], extra: [FLAG_ROW] }];
    case 'command':
      return [{ shape: 'command', value: body, prefix: [], extra: [] }];
    case 'commands':
      return Array.isArray(body) ? body.map((c, i) => ({ shape: 'command' as const, value: c, prefix: [String(i)], extra: [] })) : [];
    case 'interaction-callback': {
      const { type, data } = body as { type?: number; data?: unknown };
      if (data === undefined || data === null) return [];
      switch (type) {
        case InteractionResponseType.ChannelMessageWithSource:
        case InteractionResponseType.UpdateMessage:
        case InteractionResponseType.DeferredChannelMessageWithSource:
          return [{ shape: 'message', value: data, prefix: ['data'], extra: [FLAG_ROW] }];
        case InteractionResponseType.Modal:
          return [{ shape: 'modal', value: data, prefix: ['data'], extra: [] }];
        case InteractionResponseType.ApplicationCommandAutocompleteResult:
          return [{ shape: 'autocomplete', value: data, prefix: ['data'], extra: [] }];
        default:
          return [];
      }
    }
  }
}

function apply(rule: Rule, value: unknown): InnerError | undefined {
  if (rule.kind === 'check') return rule.check(value);
  if (typeof value !== 'string' && !Array.isArray(value)) return undefined;
  const n = value.length;
  if (rule.min !== undefined && (n < rule.min || n > rule.max)) {
    return { code: 'BASE_TYPE_BAD_LENGTH', message: `Must be between ${rule.min} and ${rule.max} in length.` };
  }
  return n > rule.max ? { code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${rule.max} or fewer in length.` } : undefined;
}

/** Every value at `path` ('embeds[].fields[].name'), with its concrete path (['embeds', '0', 'fields', '2', 'name']). */
function select(root: unknown, path: string): Array<{ path: string[]; value: unknown }> {
  let found: Array<{ path: string[]; value: unknown }> = [{ path: [], value: root }];
  for (const token of path.split('.')) {
    const each = token.endsWith('[]');
    const key = each ? token.slice(0, -2) : token;
    const next: typeof found = [];
    for (const { path: at, value } of found) {
      if (value === null || typeof value !== 'object') continue;
      const child = (value as Record<string, unknown>)[key];
      if (child === undefined) continue;
      if (!each) next.push({ path: [...at, key], value: child });
      else if (Array.isArray(child)) child.forEach((item, i) => next.push({ path: [...at, key, String(i)], value: item }));
    }
    found = next;
  }
  return found;
}

function addError(errors: Record<string, unknown>, path: string[], error: InnerError): void {
  let node = errors;
  for (const key of path) node = (node[key] ??= {}) as Record<string, unknown>;
  ((node._errors ??= []) as InnerError[]).push(error);
}
