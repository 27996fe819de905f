import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'solbound', file?: string): Logger {
  const options = {
    name,
    level,
    // Secrets must never reach the logs even if a caller logs a whole config or request.
    redact: {
      paths: ['DISCORD_TOKEN', 'ADMIN_TOKEN', 'DATABASE_URL', 'TREASURY_SECRET_KEY', '*.DISCORD_TOKEN', '*.ADMIN_TOKEN', '*.TREASURY_SECRET_KEY', 'req.headers.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  // The interactive sandbox console owns the terminal, so its logs go to a file instead.
  return file ? pino(options, pino.destination({ dest: file, mkdir: true, sync: false })) : pino(options);
}
