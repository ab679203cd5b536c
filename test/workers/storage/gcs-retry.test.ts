/**
 * The GCS back-end's parts that need no server (workers/storage/gcs-retry.ts, gcs.ts): which failures are
 * retried, how many attempts, a count that starts over when an attempt moved the upload forward, and the
 * progress a file's upload reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EgressError } from '../../../shared/errors.ts';
import { isRetryable, statusOf, withRetries } from '../../../workers/storage/gcs-retry.ts';
import { gcsCredentials, progressReport } from '../../../workers/storage/gcs.ts';

test('GCS/retry: 5xx, 408, 429 and network errors are retried; other 4xx and url_policy refusals are final', () => {
  for (const err of [{ code: 503 }, { response: { status: 500 } }, { status: 408 }, { code: '429' }, { code: 'ECONNRESET' }])
    assert.equal(isRetryable(err), true, JSON.stringify(err));
  for (const err of [{ code: 403 }, { response: { status: 404 } }, new EgressError('EGR_ERR_PERMISSION_DENIED', 'denied')])
    assert.equal(isRetryable(err as never), false, JSON.stringify(err));
  assert.equal(statusOf({ code: '410' }), 410);
  assert.equal(statusOf({ code: 'ENOTFOUND' }), undefined);
});

test('GCS/retry: 5 attempts in a row, the count starting over after an attempt that progressed', async () => {
  let calls = 0;
  const retries: number[] = [];
  await assert.rejects(
    withRetries(
      async () => {
        calls++;
        throw Object.assign(new Error('busy'), { code: 503 });
      },
      undefined,
      () => false,
      (n) => retries.push(n),
    ),
    /busy/,
  );
  assert.equal(calls, 5);
  assert.deepEqual(retries, [1, 2, 3, 4]);

  calls = 0;
  const value = await withRetries(
    async () => {
      if (++calls < 7) throw Object.assign(new Error('busy'), { code: 503 });
      return 'done';
    },
    undefined,
    () => calls === 3,
  );
  assert.equal(value, 'done');
  assert.equal(calls, 7);
});

test('GCS/progress: only forward; advanced() says whether it moved since last asked', () => {
  const seen: [number, number][] = [];
  const progress = progressReport(100, (sent, total) => seen.push([sent, total]));
  assert.equal(progress.advanced(), false);
  progress.report(40);
  progress.report(30);
  progress.report(40);
  assert.equal(progress.advanced(), true);
  assert.equal(progress.advanced(), false);
  progress.report(100);
  assert.deepEqual(seen, [
    [40, 100],
    [100, 100],
  ]);
});

test('GCS/credentials: a service account JSON, none for an emulator, else application-default; bad JSON refused', () => {
  assert.deepEqual(gcsCredentials(JSON.stringify({ project_id: 'p', client_email: 'e' }), false), {
    credentials: { project_id: 'p', client_email: 'e' },
    projectId: 'p',
  });
  assert.deepEqual(gcsCredentials('', true), { projectId: 'egress-queue' });
  assert.deepEqual(gcsCredentials('  ', false), {});
  assert.throws(() => gcsCredentials('{', false), /credentials are not valid JSON/);
});
