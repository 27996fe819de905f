import { startApp } from './app';
import { loadConfig } from './config';
import { createLogger } from './logger';

const startedAt = performance.now();
const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);

const app = await startApp(config, log).catch((err: unknown) => {
  log.fatal({ err }, 'start failed');
  process.exit(1);
});
log.info({ http: app.httpUrl, ms: Math.round(performance.now() - startedAt) }, 'ready');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    log.error('shutdown took longer than 20 s; exiting');
    process.exit(1);
  }, 20_000);
  force.unref();
  await app.stop();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
