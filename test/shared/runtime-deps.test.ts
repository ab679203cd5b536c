/**
 * What the service runs needs only `dependencies`: images and production installs leave devDependencies out
 * (`npm ci --omit=dev`), so a package imported at run time but listed as a devDependency crash-loops every
 * container with ERR_MODULE_NOT_FOUND while every test on a development tree passes.
 *
 * Every package that api/, shared/, workers/, templates/ and main.ts name at run time — static and dynamic
 * imports, re-exports, require and require.resolve, pino transport targets — must be a dependency. Then the
 * production tree is installed for real in a temporary copy, and there every module loads, every such
 * package imports, each entry point gets as far as reading its config, and the pino-pretty transport prints.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What runs in production: the Dockerfile's sources, and main.ts for `npm start`. */
const RUNTIME = ['api', 'shared', 'workers', 'templates', 'main.ts'];
const ENTRY_POINTS = ['main.ts', 'api/main.ts', 'workers/main.ts'];
const execFileAsync = promisify(execFile);

function sourceFiles(path: string): string[] {
  const full = join(ROOT, path);
  if (/\.(ts|js|mjs|cjs)$/.test(path)) return [full];
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(ts|js|mjs|cjs)$/.test(name))
    .map((name) => join(full, name));
}

/** Module specifiers a file names at run time (type-only imports and exports are erased, so they do not count). */
function runtimeSpecifiers(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const literal = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node)) found.push(node.text);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly) literal(node.moduleSpecifier);
    else if (ts.isExportDeclaration(node) && !node.isTypeOnly) literal(node.moduleSpecifier);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const [first] = node.arguments;
      // import('x'), require('x'), require.resolve('x'), createRequire(…).resolve('x'), import.meta.resolve('x')
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) literal(first);
      else if (
        ts.isPropertyAccessExpression(callee) &&
        callee.name.text === 'resolve' &&
        /require|import\.meta/i.test(callee.expression.getText(source))
      )
        literal(first);
    }
    // pino's transports name their package: transport: { target: 'pino-pretty' }
    else if (ts.isPropertyAssignment(node) && node.name.getText(source) === 'target' && ts.isStringLiteralLike(node.initializer))
      literal(node.initializer);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** 'a/b/c' → 'a', '@s/a/b' → '@s/a'; undefined for relative paths, absolute paths and Node's own modules. */
function packageOf(specifier: string): string | undefined {
  if (/^[./]/.test(specifier) || isBuiltin(specifier) || specifier.includes(':')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
/** Package → the runtime files that name it, and the specifiers they use. */
const used = new Map<string, { files: Set<string>; specifiers: Set<string> }>();
for (const file of RUNTIME.flatMap(sourceFiles)) {
  for (const specifier of runtimeSpecifiers(file)) {
    const name = packageOf(specifier);
    if (!name) continue;
    const entry = used.get(name) ?? { files: new Set(), specifiers: new Set() };
    entry.files.add(relative(ROOT, file));
    entry.specifiers.add(specifier);
    used.set(name, entry);
  }
}

describe('runtime dependencies', () => {
  test('every package the service imports at run time is in dependencies', () => {
    // The scan finds what it must: the two packages the images once lacked, and a transport named by string.
    for (const name of ['livekit-server-sdk', 'pino-pretty', 'bullmq']) assert.ok(used.has(name), `${name} is found by the scan`);
    const missing = [...used]
      .filter(([name]) => !(name in packageJson.dependencies))
      .map(([name, { files }]) => `${name} (${[...files].join(', ')})`);
    assert.deepEqual(missing, []);
  });

  describe('in a production install (npm ci --omit=dev)', () => {
    let dir = '';
    const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      execFileAsync(process.execPath, args, {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', ...env },
        encoding: 'utf8',
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
      );

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'egress-queue-production-'));
      for (const path of [...RUNTIME, 'package.json', 'package-lock.json']) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
      const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
      await execFileAsync(npm, ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: dir,
        env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
        maxBuffer: 64 * 1024 * 1024,
      });
    });
    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('the devDependencies only development needs are left out', () => {
      for (const name of ['azurite', '@types/node']) assert.ok(!existsSync(join(dir, 'node_modules', name)), `${name} is left out`);
    });

    test('every module of the service loads', async () => {
      const modules = RUNTIME.flatMap(sourceFiles).filter(
        (file) => file.endsWith('.ts') && !ENTRY_POINTS.includes(relative(ROOT, file)) && !relative(ROOT, file).startsWith('templates'),
      );
      const script = join(dir, 'load-all.mjs');
      writeFileSync(
        script,
        `for (const file of ${JSON.stringify(modules.map((file) => relative(ROOT, file)))}) await import('./' + file);\nconsole.log('loaded');\n`,
      );
      const { code, stdout, stderr } = await node([script]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^loaded$/m);
    });

    test('every package named at run time imports', async () => {
      const specifiers = [...used.values()].flatMap(({ specifiers }) => [...specifiers]);
      const script = join(dir, 'import-all.mjs');
      writeFileSync(script, `for (const s of ${JSON.stringify(specifiers)}) await import(s);\nconsole.log('imported');\n`);
      const { code, stdout, stderr } = await node([script]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^imported$/m);
    });

    for (const entry of ENTRY_POINTS) {
      test(`node ${entry} gets as far as reading its config`, async () => {
        // ES modules are linked, every import resolved, before any of their code runs: a config error proves it.
        const { code, stderr } = await node([entry], { EGRESS_CONFIG_BODY: 'not_a_key: 1' });
        assert.doesNotMatch(stderr, /ERR_MODULE_NOT_FOUND|Cannot find (package|module)/);
        assert.match(stderr, /invalid configuration: .*not_a_key/);
        assert.equal(code, 2);
      });
    }

    test('logging.json: false prints through the pino-pretty transport', async () => {
      const script = join(dir, 'pretty.mjs');
      writeFileSync(
        script,
        [
          "import { loadConfig } from './shared/config/load.ts';",
          "import { createLogger } from './shared/logger.ts';",
          "const config = loadConfig({ env: { EGRESS_CONFIG_BODY: 'logging: { json: false }', LIVEKIT_API_KEY: 'k', LIVEKIT_API_SECRET: 's'.repeat(32) } });",
          "createLogger(config, 'runtime-deps').info('pretty line');",
        ].join('\n'),
      );
      const { code, stdout, stderr } = await node([script]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /INFO.*pretty line/);
      assert.doesNotMatch(stdout, /^\{/m, 'not JSON');
    });
  });
});
