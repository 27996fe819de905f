/**
 * The users module's API for other modules that must create or find a user row inside their own transaction
 * (ledger, deposits, withdrawals, wallets). Other modules never import users.repository (lint enforces it); this
 * file is what they may rely on, whatever the repository behind it becomes.
 */
export { blockedAmong, ensureId, ensureIds, findByDiscordId, lockForUpdate, upsertByDiscordId, type UserRef } from './users.repository';
