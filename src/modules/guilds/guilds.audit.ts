/**
 * The audit log's public API: every module that performs a privileged action writes its audit row through this, in
 * the action's own transaction (append-only; the table refuses UPDATE and DELETE).
 */
export { writeAudit, type AuditActor, type AuditEventInput } from './guilds.repository';
