import { startApp, type App } from './app';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { runConsole } from './sandbox/console';
import { startSandbox, type Sandbox } from './sandbox/sandbox';

const startedAt = performance.now();
const config = loadConfig();
const interactive = !config.DISCORD_TOKEN && process.stdin.isTTY === true;
const log = createLogger(config.LOG_LEVEL, 'solbound', interactive ? './.data/sandbox.log' : undefined);

// Without a Discord token the product runs against loopback emulators: the sandbox.
let sandbox: Sandbox | undefined;
let app: App;
try {
  if (config.DISCORD_TOKEN) {
    app = await startApp(config, log);
  } else {
    sandbox = await startSandbox(config, log);
    app = sandbox.app;
  }
} catch (err) {
  log.fatal({ err }, 'start failed');
  process.exit(1);
}
log.info(
  { http: app.httpUrl, mode: sandbox ? 'sandbox' : 'discord', ms: Math.round(performance.now() - startedAt) },
  'ready',
);

let stopping = false;
async function shutdown(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ reason }, 'shutting down');
  const force = setTimeout(() => {
    log.error('shutdown took longer than 20 s; exiting');
    process.exit(1);
  }, 20_000);
  force.unref();
  await (sandbox ? sandbox.stop() : app.stop());
  log.info('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

// Only a person at a terminal gets the console; piped or detached, the sandbox just keeps serving.
if (sandbox && interactive) {
  process.stdout.write(
    `\nSolbound sandbox — HTTP ${app.httpUrl}. Logs: .data/sandbox.log.\nAct as anyone, e.g. "as alice /help"; "admin" has Manage Server (try "as admin /admin credit user:@alice amount:5"). "help" lists verbs, "quit" stops.\n`,
  );
  void runConsole(sandbox.discord, process.stdin, process.stdout).then(() => shutdown('console quit'));
}
