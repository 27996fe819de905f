export { commandJson, type Command, type CommandData, type CommandJson, type LoadedCommand, type Authority } from './command';
export { customId, parseCustomId, type ComponentHandler, type ComponentInteraction } from './component';
export type { MessageHandler } from './message-handler';
export { InteractionRegistry } from './interaction-registry';
export { buildRegistry, DEFAULT_COMMANDS_DIR, DEFAULT_COMPONENT_ROOTS, loadCommands, loadComponents, loadMessageHandlers } from './command-loader';
export {
  attachInteractionRouter,
  createInteractionRouter,
  registryOf,
  type AuthorizeFn,
  type InteractionRouter,
  type InteractionRouterOptions,
} from './interaction-router';
export { ERROR_MARK, errorRefOf, formatInternalError, formatUserError, isErrorReply, newErrorRef } from './error-reply';
export { createDiscordClient, DEFAULT_INTENTS, loginDiscordClient, type DiscordClientOptions } from './discord-client';
export { createRest, deployCommands, type DeployCommandsOptions } from './deploy-commands';
export { authorizeByAuthority, isGuildStaff, isOperator } from './authorize';
