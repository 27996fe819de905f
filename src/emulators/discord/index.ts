export { DiscordEmulator, startDiscordEmulator } from './discord-emulator';
export type {
  AttachmentInput,
  DiscordEmulatorOptions,
  EmulatorFailure,
  InteractionOptions,
  OptionValue,
  RecordedRequest,
  RoleChange,
  ThreadMemberAdd,
  UserOptions,
} from './discord-emulator';
export type { EmuChannel, EmuFile, EmuGuild, EmuMember, EmuMessage, EmuRole, EmuUser } from './discord-state';
export { shardOf, snowflakeOnShard, type GatewayShardingOptions } from './gateway';
export { InteractionResult } from './interaction-result';
export { messageControls, renderMessage, type MessageControl } from './render-message';
