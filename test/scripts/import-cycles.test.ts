/**
 * scripts/import-cycles.ts, the check CI runs first: a cycle of value imports fails it and is named; type-only
 * imports are no cycle; the repository has none.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/import-cycles.ts', import.meta.url).pathname;

/** The script's exit code and output for the sources under root (the repository when undefined). */
async function check(root?: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, ...(root === undefined ? [] : [root])]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe('scripts/import-cycles.ts', () => {
  let dir: string;
  /** A tree with shared/a.ts and shared/b.ts importing each other through the given statements. */
  async function tree(name: string, aImportsB: string, bImportsA: string): Promise<string> {
    const root = join(dir, name);
    await mkdir(join(root, 'shared'), { recursive: true });
    await writeFile(join(root, 'shared', 'a.ts'), `${aImportsB}\nexport const a = 1;\nexport type A = number;\n`);
    await writeFile(join(root, 'shared', 'b.ts'), `${bImportsA}\nexport const b = 2;\nexport type B = number;\n`);
    return root;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'import-cycles-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a cycle of value imports: exit 1, the cycle named', async () => {
    const root = await tree('value', "import { b } from './b.ts';", "export { a } from './a.ts';");
    const { code, output } = await check(root);
    assert.equal(code, 1, output);
    assert.match(output, /import cycle: shared\/a\.ts -> shared\/b\.ts -> shared\/a\.ts/);
  });

  test('type-only imports (import type, export type, every name `type X`) are no cycle: exit 0', async () => {
    for (const [name, aImportsB, bImportsA] of [
      ['import-type', "import type { B } from './b.ts';", "import type { A } from './a.ts';"],
      ['export-type', "export type { B } from './b.ts';", "import { type A } from './a.ts';"],
      ['one-value', "import { b } from './b.ts';", "import { type A, type A as C } from './a.ts';"],
    ]) {
      const { code, output } = await check(await tree(name!, aImportsB!, bImportsA!));
      assert.equal(code, 0, `${name}: ${output}`);
    }
  });

  test('the repository has no import cycle', async () => {
    const { code, output } = await check();
    assert.equal(code, 0, output);
  });
});
