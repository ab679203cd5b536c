/**
 * The upload pool's dispatch table (workers/upload/upload-dispatch.ts): each job goes to the processor of its
 * name; a name from Redis that is no processor's, inherited property names included, fails for good.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import type { QueueJob } from '../../../shared/queues.ts';
import { uploadDispatcher } from '../../../workers/upload/upload-dispatch.ts';

const jobNamed = (name: string) => ({ name, data: {} }) as unknown as QueueJob<'upload'>;

test('Upload/dispatch: by job name, with the token', async () => {
  const calls: string[] = [];
  const processor = (name: string) => async (_job: unknown, token?: string) => {
    calls.push(`${name}:${token}`);
    return name;
  };
  const dispatch = uploadDispatcher({
    upload: processor('upload'),
    playlist: processor('playlist'),
    finalize: processor('finalize'),
    salvage: processor('salvage'),
  });
  for (const name of ['upload', 'playlist', 'finalize', 'salvage']) assert.equal(await dispatch(jobNamed(name), 't'), name);
  assert.deepEqual(calls, ['upload:t', 'playlist:t', 'finalize:t', 'salvage:t']);
});

test('Upload/dispatch: an unknown name, or an inherited property name, is unrecoverable', () => {
  const never = async () => assert.fail('no processor runs');
  const dispatch = uploadDispatcher({ upload: never, playlist: never, finalize: never, salvage: never });
  for (const name of ['record', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '']) {
    assert.throws(
      () => dispatch(jobNamed(name)),
      (err: Error) => err instanceof UnrecoverableError && err.message === `unknown upload job ${name}`,
      name,
    );
  }
});
