/**
 * The Docker engine of one test file: ensured before its tests (engine.ts), stopped after them if it was
 * started for them, and the guard each test starts with, which skips it with the reason where no engine
 * could be started.
 */
import type { TestContext } from 'node:test';
import { ensureEngine, type Engine } from './engine.ts';

export class SuiteEngine {
  #engine: Engine | undefined;

  /** True when an engine answers. */
  async start(): Promise<boolean> {
    this.#engine = await ensureEngine();
    return this.#engine.skip === undefined;
  }

  async stop(): Promise<void> {
    if (this.#engine && this.#engine.skip === undefined) await this.#engine.stop();
  }

  /** Skips the test when there is no engine; true then. */
  skipped(t: TestContext): boolean {
    const reason = this.#engine?.skip;
    if (reason !== undefined) t.skip(reason);
    return reason !== undefined;
  }
}
