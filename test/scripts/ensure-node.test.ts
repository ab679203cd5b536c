/**
 * scripts/ensure-node.sh keeps an installed node only when it can run the .ts sources (package.json engines,
 * >= 22.18). A stub `node` on PATH plays each version; the cached install the script would fall back to is a
 * stub too, so nothing is downloaded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/ensure-node.sh', import.meta.url).pathname;

describe('scripts/ensure-node.sh', () => {
  let dir: string;
  const cached = () => join(dir, 'cache', 'node-24.21.0', 'bin');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ensure-node-'));
    await mkdir(cached(), { recursive: true });
    await writeFile(join(cached(), 'node'), '#!/bin/sh\necho v24.21.0\n');
    await chmod(join(cached(), 'node'), 0o755);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The PATH the script prints with a node of `version` first on PATH. */
  async function pathWith(version: string): Promise<string> {
    const bin = join(dir, `node-${version}`);
    await mkdir(bin, { recursive: true });
    // Answers `node -p 'process.versions.node'` as that version would.
    await writeFile(join(bin, 'node'), `#!/bin/sh\necho ${version}\n`);
    await chmod(join(bin, 'node'), 0o755);
    const { stdout } = await run('bash', [SCRIPT], { env: { PATH: `${bin}:/usr/bin:/bin`, EGRESS_CACHE_DIR: join(dir, 'cache'), HOME: dir } });
    return /^export PATH="(.*)"$/m.exec(stdout)?.[1] ?? assert.fail(stdout);
  }

  test('22.0–22.17 and 20.x are too old: the cached Node LTS comes first on PATH', async () => {
    for (const version of ['22.0.0', '22.17.1', '20.19.0']) assert.ok((await pathWith(version)).startsWith(`${cached()}:`), version);
  });

  test('22.18 and later are kept: PATH unchanged', async () => {
    for (const version of ['22.18.0', '22.20.0', '23.0.0', '24.5.0'])
      assert.ok((await pathWith(version)).startsWith(join(dir, `node-${version}`)), version);
  });

  test('the minimum is package.json engines', async () => {
    const engines = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines
      .node;
    assert.equal(engines, '>=22.18.0');
    assert.match(await readFile(SCRIPT, 'utf8'), /^MIN_VERSION=22\.18\.0$/m);
  });

  test('.nvmrc names the Node LTS the script installs by default', async () => {
    const nvmrc = (await readFile(new URL('../../.nvmrc', import.meta.url), 'utf8')).trim();
    assert.match(
      await readFile(SCRIPT, 'utf8'),
      new RegExp(`^NODE_LTS_VERSION="\\$\\{EGRESS_NODE_VERSION:-${nvmrc.replaceAll('.', '\\.')}\\}"$`, 'm'),
    );
  });
});
