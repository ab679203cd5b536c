// Circular value imports among the sources (issue 15): prints each cycle and exits 1 when there is one.
// An edge is a static `import ... from './x.ts'`, `import './x.ts'` or `export ... from './x.ts'` with a
// relative specifier; `import type` / `export type`, and imports or re-exports whose every name is `type X`,
// are left out (they carry no value). Dynamic `import()` is left out too (it runs after the module graph has
// loaded). Usage: node scripts/import-cycles.ts [--with-types] [root folder, default the repo]; --with-types
// counts type-only imports as edges too (to look at, not checked in CI).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** What is scanned, relative to the root: folders (recursively) and single files; a missing entry is skipped. */
export const SCANNED = ['api', 'shared', 'workers', 'main.ts', 'templates', 'bench'];

function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (path: string): void => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (entry !== 'node_modules') walk(join(path, entry));
    } else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) {
      files.push(path);
    }
  };
  for (const entry of SCANNED) walk(join(root, entry));
  return files;
}

/** Whether an import or export declaration loads the module at run time (see the header). */
function carriesValue(statement: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(statement)) {
    const clause = statement.importClause;
    if (!clause) return true; // import './x.ts'
    if (clause.isTypeOnly) return false;
    if (clause.name) return true;
    const bindings = clause.namedBindings;
    if (!bindings || ts.isNamespaceImport(bindings)) return true;
    return bindings.elements.length === 0 || bindings.elements.some((element) => !element.isTypeOnly);
  }
  if (statement.isTypeOnly) return false;
  const clause = statement.exportClause;
  if (!clause || ts.isNamespaceExport(clause)) return true;
  return clause.elements.length === 0 || clause.elements.some((element) => !element.isTypeOnly);
}

/** The relative value imports of one file, as absolute paths of files that exist. */
function valueImports(file: string, withTypes: boolean): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const targets: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    if (!withTypes && !carriesValue(statement)) continue;
    const target = resolve(dirname(file), specifier.text);
    if (existsSync(target)) targets.push(target);
  }
  return targets;
}

/** Every cycle of the value-import graph (withTypes: of all imports, type-only ones too) under root, each as a list of paths relative to root (first repeated). */
export function findCycles(root: string, options: { withTypes?: boolean } = {}): string[][] {
  const files = sourceFiles(resolve(root));
  const scanned = new Set(files);
  const withTypes = options.withTypes ?? false;
  const graph = new Map(files.map((file) => [file, valueImports(file, withTypes).filter((target) => scanned.has(target))]));
  // Tarjan's strongly connected components; each component of more than one file (or a file importing
  // itself) holds at least one cycle, reported as one shortest loop through its first file.
  let index = 0;
  const indices = new Map<string, number>();
  const lowLinks = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (file: string): void => {
    indices.set(file, index);
    lowLinks.set(file, index);
    index += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!indices.has(target)) {
        connect(target);
        lowLinks.set(file, Math.min(lowLinks.get(file)!, lowLinks.get(target)!));
      } else if (onStack.has(target)) {
        lowLinks.set(file, Math.min(lowLinks.get(file)!, indices.get(target)!));
      }
    }
    if (lowLinks.get(file) === indices.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || (graph.get(file) ?? []).includes(file)) components.push(component.sort());
    }
  };
  for (const file of files) if (!indices.has(file)) connect(file);

  return components
    .sort((a, b) => a[0]!.localeCompare(b[0]!))
    .map((component) => {
      const members = new Set(component);
      const start = component[0]!;
      // Breadth-first from start back to start, inside the component.
      const previous = new Map<string, string>();
      const queue = [start];
      let last: string | undefined;
      while (queue.length > 0 && last === undefined) {
        const file = queue.shift()!;
        for (const target of graph.get(file) ?? []) {
          if (!members.has(target)) continue;
          if (target === start) {
            last = file;
            break;
          }
          if (!previous.has(target)) {
            previous.set(target, file);
            queue.push(target);
          }
        }
      }
      const loop = [start];
      for (let file = last; file !== undefined && file !== start; file = previous.get(file)) loop.splice(1, 0, file);
      loop.push(start);
      return loop.map((file) => relative(resolve(root), file));
    });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const withTypes = args.includes('--with-types');
  const root = args.find((arg) => !arg.startsWith('--')) ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  const cycles = findCycles(root, { withTypes });
  for (const cycle of cycles) console.error(`import cycle: ${cycle.join(' -> ')}`);
  if (cycles.length > 0) {
    console.error(`egress-queue: ${cycles.length} import cycle(s) (${withTypes ? 'all' : 'value'} imports; see scripts/import-cycles.ts)`);
    process.exit(1);
  }
  console.log('egress-queue: no import cycles');
}
