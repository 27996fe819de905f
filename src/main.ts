// Signal handlers come first, before anything is loaded or started: a SIGTERM at any moment of start-up then stops
// what was started (the embedded PostgreSQL included) instead of killing the process around it.
import type { App } from './app';
import type { Sandbox } from './sandbox/sandbox';

const startedAt = performance.now();
const abort = new AbortController();
/** Set once started: from then on a signal shuts the running app down. */
const running: { shutdown?: (reason: string) => Promise<void> } = {};
const onSignal = (signal: NodeJS.Signals) => {
  if (running.shutdown) {
    void running.shutdown(signal);
    return;
  }
  // Start-up stops at its next step; one stuck in a step (e.g. a Discord login) must not hold the process forever.
  if (!abort.signal.aborted) setTimeout(() => process.exit(1), 20_000).unref();
  abort.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const [{ startApp }, { loadConfig }, { createLogger }, { runConsole }, { startSandbox }, { StartAborted, explainStartFailure }] = await Promise.all([
  import('./app'),
  import('./config'),
  import('./logger'),
  import('./sandbox/console'),
  import('./sandbox/sandbox'),
  import('./startup'),
]);

const config = loadConfig();
const interactive = !config.DISCORD_TOKEN && process.stdin.isTTY === true;
const log = createLogger(config.LOG_LEVEL, 'solbound', interactive ? './.data/sandbox.log' : undefined);
log.info({ mode: config.DISCORD_TOKEN ? 'discord' : 'sandbox' }, 'starting');

// Without a Discord token the product runs against loopback emulators: the sandbox.
let sandbox: Sandbox | undefined;
let app: App;
try {
  if (config.DISCORD_TOKEN) {
    app = await startApp(config, log, { signal: abort.signal });
  } else {
    sandbox = await startSandbox(config, log, { signal: abort.signal });
    app = sandbox.app;
  }
} catch (err) {
  if (err instanceof StartAborted) {
    log.info({ reason: abort.signal.reason as unknown }, 'start-up aborted; stopped');
    process.exit(0);
  }
  const message = explainStartFailure(err);
  log.fatal({ err }, message);
  // The log may be a file (interactive sandbox) or filtered by LOG_LEVEL: the operator sees the cause either way.
  process.stderr.write(`solbound: ${message}\n`);
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
running.shutdown = shutdown;
// A signal that arrived while start-up was finishing its last step.
if (abort.signal.aborted) await shutdown(String(abort.signal.reason));

// Only a person at a terminal gets the console; piped or detached, the sandbox just keeps serving.
if (sandbox && interactive) {
  process.stdout.write(
    `\nSolbound sandbox — HTTP ${app.httpUrl}. Logs: .data/sandbox.log.\nAct as anyone, e.g. "as alice /help"; "admin" has Manage Server (try "as admin /admin credit user:@alice amount:5"). "help" lists verbs, "quit" stops.\n`,
  );
  void runConsole(sandbox.discord, process.stdin, process.stdout).then(() => shutdown('console quit'));
}
