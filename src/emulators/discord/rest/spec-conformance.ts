import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks emulator traffic against Discord's official OpenAPI description (src/emulators/discord/discord-api-spec, MIT): the bot's
 * request bodies against each operation's request schema, the emulator's JSON answers against its response schema.
 * What the spec does not describe cannot be checked, so a route without an operation is a violation too.
 *
 * Validators are compiled once per operation and direction, on first use, and shared by every emulator in the process:
 * a test file pays only for the operations it exercises.
 */

const SPEC_ID = 'https://discord.invalid/openapi.json';
const SPEC_PATH = fileURLToPath(new URL('../discord-api-spec/openapi.json', import.meta.url));

interface SpecOperation {
  operationId: string;
  method: string;
  /** JSON pointer (into the spec) of the operation object. */
  pointer: string;
  hasJsonBody: boolean;
  /** Status keys the spec lists ('200', '4XX', 'default', …) with a JSON body. */
  jsonResponses: Set<string>;
}

interface SpecPath {
  segments: string[];
  literals: number;
  operations: Map<string, SpecOperation>;
}

type Json = Record<string, unknown>;

export class DiscordSpec {
  private readonly paths: SpecPath[] = [];
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly specRoot: Json) {
    const spec = specRoot;
    // strict off: the spec carries OpenAPI and Discord annotations (x-discord-union, …) ajv does not know.
    this.ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: false, allowUnionTypes: true, inlineRefs: false });
    addFormats.default(this.ajv);
    const isInt = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max;
    this.ajv.addFormat('int32', { type: 'number', validate: isInt(-(2 ** 31), 2 ** 31 - 1) });
    this.ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('double', { type: 'number', validate: () => true });
    this.ajv.addFormat('snowflake', /^(0|[1-9][0-9]*)$/);
    this.ajv.addFormat('nonce', { type: 'string', validate: () => true });
    this.ajv.addSchema({ ...spec, $id: SPEC_ID });

    const specPaths = (spec.paths ?? {}) as Record<string, Json>;
    for (const [template, item] of Object.entries(specPaths)) {
      const segments = template.split('/').filter(Boolean);
      const operations = new Map<string, SpecOperation>();
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters' || typeof op !== 'object' || op === null) continue;
        const opObj = op as Json;
        const content = ((opObj.requestBody as Json | undefined)?.content ?? {}) as Json;
        const responses = (opObj.responses ?? {}) as Record<string, Json>;
        const jsonResponses = new Set(
          Object.entries(responses)
            .filter(([, r]) => this.resolve(r).content !== undefined && (this.resolve(r).content as Json)['application/json'] !== undefined)
            .map(([status]) => status),
        );
        operations.set(method.toUpperCase(), {
          operationId: String(opObj.operationId ?? `${method} ${template}`),
          method: method.toUpperCase(),
          pointer: `/paths/${escapePointer(template)}/${method}`,
          hasJsonBody: content['application/json'] !== undefined,
          jsonResponses,
        });
      }
      this.paths.push({ segments, literals: segments.filter((s) => !s.startsWith('{')).length, operations });
    }
    // Most literal first, so /webhooks/{id}/{token}/messages/@original wins over …/messages/{message_id}.
    this.paths.sort((a, b) => b.literals - a.literals);
  }

  /** The operation a request path under /api/v10 (split into decoded segments) maps to. */
  operation(method: string, segments: string[]): SpecOperation | undefined {
    for (const path of this.paths) {
      if (path.segments.length !== segments.length) continue;
      if (!path.segments.every((want, i) => want.startsWith('{') || want === segments[i])) continue;
      const op = path.operations.get(method);
      if (op) return op;
    }
    return undefined;
  }

  /** Validates a request body (JSON, or a multipart request's payload_json) against the operation's request schema. */
  checkRequest(op: SpecOperation, body: unknown): string | undefined {
    if (!op.hasJsonBody) return undefined;
    if (body === undefined) return undefined;
    return this.run(`${op.pointer}/requestBody/content/application~1json/schema`, body, `request body of ${op.operationId}`);
  }

  /** Validates a JSON response against the schema the operation lists for its status (exact, then 2XX-style, then default). */
  checkResponse(op: SpecOperation, status: number, body: unknown): string | undefined {
    if (status >= 400) {
      // Only the envelope: the spec types nested `_errors[].code` as an integer, while Discord (and its docs'
      // examples) send strings such as BASE_TYPE_MAX_LENGTH.
      return this.run('/components/schemas/Error', body, `error response of ${op.operationId}`);
    }
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => op.jsonResponses.has(k));
    if (!key) return `${op.operationId} answered ${status} with a JSON body the spec does not list`;
    return this.run(`${op.pointer}/responses/${key}/content/application~1json/schema`, body, `${status} response of ${op.operationId}`);
  }

  private run(pointer: string, value: unknown, what: string): string | undefined {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${SPEC_ID}#${encodePointer(this.followRefs(pointer))}` });
      this.validators.set(pointer, validate);
    }
    if (validate(value)) return undefined;
    return `${what}: ${describeErrors(validate.errors ?? [])}`;
  }

  /** Responses may be `$ref`s into components/responses; ajv resolves refs only inside schemas, so follow them here. */
  private followRefs(pointer: string): string {
    const parts = pointer.split('/').slice(1);
    let node: unknown = this.specRoot;
    let resolved = '';
    for (const raw of parts) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      const ref = (node as Json | undefined)?.$ref;
      if (typeof ref === 'string' && ref.startsWith('#/')) {
        resolved = ref.slice(1);
        node = this.at(resolved);
      }
      node = (node as Json | undefined)?.[key];
      resolved += `/${raw}`;
    }
    return resolved;
  }

  private at(pointer: string): unknown {
    let node: unknown = this.specRoot;
    for (const raw of pointer.split('/').slice(1)) node = (node as Json | undefined)?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
    return node;
  }

  private resolve(node: Json): Json {
    const ref = node.$ref;
    return typeof ref === 'string' && ref.startsWith('#/') ? ((this.at(ref.slice(1)) as Json | undefined) ?? {}) : node;
  }
}

let shared: DiscordSpec | undefined;

/** The process-wide spec, parsed on first use (~1.2 MB). */
export function discordSpec(): DiscordSpec {
  shared ??= new DiscordSpec(JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Json);
  return shared;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON pointer as a URI fragment: templated path keys contain '{' and '}'. */
function encodePointer(pointer: string): string {
  return pointer.replace(/[{}@]/g, (c) => encodeURIComponent(c));
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 3)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : ''}`)
    .join('; ');
}
