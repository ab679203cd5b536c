/**
 * The service's logs as a process prints them (shared/run-main.ts: loadConfig, then createLogger): readable
 * lines when standard output is a terminal (a pseudo-terminal from util-linux `script` here), JSON lines
 * when it is a pipe; secrets censored either way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';

const REPO = new URL('../../', import.meta.url).pathname;
const SECRET = 'tok-4f1d9c-never-printed';

/** A process that logs one line carrying a token; what it printed. */
function logLine(terminal: boolean): string {
  const program = [
    `import { loadConfig } from '${REPO}shared/config/load.ts';`,
    `import { createLogger } from '${REPO}shared/logger.ts';`,
    `const log = createLogger(loadConfig({ env: { LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's' } }), 'egress-queue');`,
    `log.info({ egressId: 'EG_logtest', token: '${SECRET}', request: { secret: '${SECRET}' } }, 'recording active');`,
  ].join('\n');
  const node = [process.execPath, '--input-type=module', '-e', program];
  const env = { ...process.env };
  if (!terminal) return execFileSync(node[0]!, node.slice(1), { encoding: 'utf8', env, timeout: 20_000 });
  const quoted = node.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ');
  const printed = execFileSync('script', ['-qec', quoted, '/dev/null'], {
    encoding: 'utf8',
    env,
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Colours off, for the checks.
  return stripVTControlCharacters(printed);
}

test('in a terminal: a readable line, the token censored', () => {
  const out = logLine(true);
  assert.match(out, /INFO.*egress-queue.*recording active/, out);
  assert.match(out, /egressId: "EG_logtest"/, out);
  assert.doesNotMatch(out, /^\s*\{/m, `not JSON: ${out}`);
  assert.ok(!out.includes(SECRET), `no secret: ${out}`);
  assert.match(out, /\[redacted\]/);
});

test('through a pipe: a JSON line, the token censored', () => {
  const out = logLine(false);
  const line = JSON.parse(out.trim()) as { msg: string; egressId: string; token: string; request: { secret: string } };
  assert.equal(line.msg, 'recording active');
  assert.equal(line.egressId, 'EG_logtest');
  assert.deepEqual([line.token, line.request.secret], ['[redacted]', '[redacted]']);
});
