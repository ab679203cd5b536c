/**
 * `npm start`: the API and every worker pool in one process, for a single machine. In production run
 * `api/main.ts` and `workers/main.ts` in separate containers (see docker/compose.yml). Ctrl-C (SIGINT) stops
 * running recordings now and finalizes them; SIGTERM drains (shared/run-main.ts, README "Signals").
 */
import { startApi } from './api/main.ts';
import { isLoopbackHost } from './shared/config/binding.ts';
import { runMain } from './shared/run-main.ts';
import { startWorkers } from './workers/main.ts';

await runMain(
  'egress-queue',
  async (config, log) => {
    const workers = await startWorkers(config, log);
    const api = await startApi(config, log);
    const creds = config.usingDevKeys ? 'API key devkey, secret "secret"' : `API keys: ${[...config.apiKeys.keys()].join(', ')}`;
    const reach = isLoopbackHost(config.host) ? 'this machine only' : 'reachable from the network';
    process.stdout.write(
      [
        '',
        `  egress-queue is running`,
        `  Listening     ${api.listening.join(', ')}  (${reach}; config host / env EGRESS_HOST)`,
        `  Twirp API     ${api.url}/twirp/livekit.Egress/<Method>  (point EgressClient at ${api.url})`,
        `  Bull Board    ${api.url}/admin/queues  (user: API key, password: its secret)`,
        `  Health        ${api.url}/healthz   Metrics ${api.url}/metrics`,
        `  Credentials   ${creds}`,
        `  Recordings    ${config.storage.local.directory}`,
        '',
      ].join('\n') + '\n',
    );
    return {
      async close({ graceSec, finishSec }) {
        await Promise.all([api.close(), workers.close(graceSec, finishSec)]);
      },
      interrupt: (finishSec) => workers.stopAll('Server shutting down', finishSec),
    };
    // Ctrl-C at the terminal stops the recordings now (finalized), rather than draining for shutdown_grace.
  },
  { sigint: 'stop' },
);
