/**
 * docker/compose.yml of a build context copy, run as a Compose project of its own (a unique name, so its
 * containers, network and volumes are the test's alone), configured the way the README says: a docker/.env
 * made from docker/.env.example. Compose gets a clean environment, so nothing from the test's shell leaks in.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunResult } from './run.ts';

export class ComposeProject {
  readonly contextDir: string;
  readonly name: string;
  readonly file: string;

  constructor(contextDir: string, name: string) {
    this.contextDir = contextDir;
    this.name = name;
    this.file = join(contextDir, 'docker', 'compose.yml');
  }

  /**
   * docker/.env from docker/.env.example with these values set: each must be a variable the example
   * documents (set or commented out), so the example stays the list of what can be set.
   */
  writeEnv(values: Record<string, string>): void {
    const example = readFileSync(join(this.contextDir, 'docker', '.env.example'), 'utf8');
    const missing = new Set(Object.keys(values));
    const text = example.replace(/^#?(\w+)=.*$/gm, (line, name: string) => {
      if (!(name in values)) return line;
      missing.delete(name);
      return `${name}=${values[name]}`;
    });
    assert.deepEqual([...missing], [], 'docker/.env.example documents every variable the test sets');
    writeFileSync(join(this.contextDir, 'docker', '.env'), text);
  }

  compose(args: string[], options: { timeoutMs?: number; allowFailure?: boolean; env?: Record<string, string> } = {}): Promise<RunResult> {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      ...pick(process.env, /^DOCKER_(HOST|CONFIG|CERT_PATH|TLS_VERIFY)$/),
      ...options.env,
    };
    return run('docker', ['compose', '-f', this.file, '-p', this.name, ...args], {
      env,
      timeoutMs: options.timeoutMs ?? 120_000,
      allowFailure: options.allowFailure,
    });
  }

  /** Container ids of a service (or of every service), running or stopped. */
  async containers(service?: string): Promise<string[]> {
    const { stdout } = await this.compose(['ps', '--all', '--quiet', ...(service ? [service] : [])]);
    return stdout.split('\n').filter(Boolean);
  }

  /** Removes the containers, the network and the volumes. */
  async down(): Promise<void> {
    await this.compose(['down', '--volumes', '--remove-orphans', '--timeout', '30']);
  }
}

function pick(env: NodeJS.ProcessEnv, pattern: RegExp): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => pattern.test(entry[0]) && entry[1] !== undefined));
}
