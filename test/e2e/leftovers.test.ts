/**
 * What a dead worker leaves on its host, and the next worker that starts there (workers/process/leftovers.ts):
 * a worker with an idle warm station (warm_pool.size 1, no job) SIGKILLed takes the station's processes with
 * it; what they cannot remove themselves (the PulseAudio runtime and warm-station directories, the X display's
 * socket) stays until the next worker starts and reaps it, along with simulated leftovers of dead owners
 * (processes tagged with a dead pid or a reused one, one leading a group whose other member shows no tag, an X
 * server with its lock file and socket, directories, a Chromium profile); and it leaves everything of a live
 * owner's (this test process's) alone, and the recording working directories the salvage needs. Leftovers are
 * found by the owner tag in their environment, never by name.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { watchdogPid } from '../../workers/process/group-watchdog.ts';
import { OWN_OWNER, OWNER_TAG, ownerOf } from '../../workers/process/owner-tag.ts';
import { processesTagged, readStat } from '../../workers/process/proc-table.ts';
import { Supervisor, spawnSupervised, type SupervisedProcess } from '../../workers/process/processes.ts';
import { listeningDisplays } from '../../workers/web/stale-displays.ts';
import { STATION_TAG } from '../../workers/web/warm-pool.ts';
import { startXvfb } from '../../workers/web/xvfb.ts';
import { processesInGroups, processesOwnedBy, untilAllGone } from '../support/owned-processes.ts';
import { startService, type TestService } from '../support/service.ts';
import { spawnWorker } from '../support/worker-process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => (readStat(pid)?.state ?? 'Z') !== 'Z';
const xLock = (display: number) => `/tmp/.X${display}-lock`;
const xSocket = (display: number) => `/tmp/.X11-unix/X${display}`;

/** The display the X server `pid` listens on. */
async function displayOf(pid: number): Promise<number | undefined> {
  const fds = await readdir(`/proc/${pid}/fd`);
  const sockets = new Set(await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))));
  for (const [display, inodes] of await listeningDisplays()) if (inodes.some((inode) => sockets.has(`socket:[${inode}]`))) return display;
  return undefined;
}

/** A display number nobody uses (no lock, no socket), for a simulated stale lock. */
function unusedDisplay(): number {
  for (let display = 2000 + Math.floor(Math.random() * 1000); ; display++)
    if (!existsSync(xLock(display)) && !existsSync(xSocket(display))) return display;
}

/** Polls `check` until it is true; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('a worker starting after a crash reaps what the dead one left, and nothing of a live owner', { concurrency: false }, () => {
  let service: TestService;
  /** The workers' temp folder (TMPDIR): only they put PulseAudio and warm-station directories there. */
  let root: string;
  let workerTmp: string;
  const workers: ChildProcess[] = [];
  const simulated: ChildProcess[] = [];
  const live: SupervisedProcess[] = [];
  const liveSupervisor = new Supervisor(pino({ level: 'silent' }), {});
  const staleFiles: string[] = [];
  /** What the SIGKILLed warm worker left. */
  let crashed: { owner: string; dirs: string[]; display: number } | undefined;

  before(async () => {
    service = await startService({ pools: ['upload', 'webhook'] });
    root = await mkdtemp(join(tmpdir(), 'egress-leftovers-'));
    workerTmp = join(root, 'tmp');
    await mkdir(workerTmp);
  });
  after(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    for (const child of simulated) if (child.pid && alive(child.pid)) process.kill(-child.pid, 'SIGKILL');
    await Promise.all(live.map((child) => child.kill(0)));
    await liveSupervisor.killAll();
    for (const file of staleFiles) await rm(file, { force: true });
    await service?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** A tagged process of a (dead) owner, started the way a worker starts its children: its own session. */
  const orphan = (owner: string, script: string, env: Record<string, string> = {}) => {
    const child = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore', env: { ...process.env, ...env, [OWNER_TAG]: owner } });
    child.unref();
    simulated.push(child);
    return child;
  };

  test("SIGKILL of a worker whose warm station waits (no job): the station's processes go; its directories stay", async (t: TestContext) => {
    const config = parse(service.env.EGRESS_CONFIG_BODY!) as Record<string, unknown>;
    const worker = spawnWorker(service, ['room-composite'], {
      TMPDIR: workerTmp,
      EGRESS_CONFIG_BODY: stringify({ ...config, warm_pool: { size: 1 } }),
    });
    workers.push(worker);
    const owner = ownerOf(worker.pid!)!;
    const stationReady = async () => {
      const programs = (await processesOwnedBy(owner)).map((p) => basename(p.command));
      return ['Xvfb', 'chromium', 'pulseaudio', 'parec'].every((program) => programs.includes(program));
    };
    await until('the warm station is ready', stationReady, 60_000);
    await sleep(1000);
    const running = await processesOwnedBy(owner);
    const stationPids = new Set((await processesTagged(STATION_TAG)).map((p) => p.pid));
    assert.ok(running.filter((p) => stationPids.has(p.pid)).length >= 3, 'Xvfb, Chromium and the sink reader carry the station tag');
    const xvfbPid = running.find((p) => basename(p.command) === 'Xvfb')!.pid;
    const display = await displayOf(xvfbPid);
    assert.ok(display !== undefined, "the station's Xvfb listens on a display");

    worker.kill('SIGKILL');
    const goneMs = await untilAllGone(owner, new Set(running.map((p) => p.pgid)), 10_000);
    t.diagnostic(`${running.length} processes (${running.map((p) => basename(p.command)).join(', ')}) gone ${goneMs} ms after the SIGKILL`);

    // What a killed program cannot remove: there until the next worker starts.
    const dirs = (await readdir(workerTmp)).filter(
      (name) => name.startsWith(`egress-pulse-${owner.replace(':', '-')}-`) || name.startsWith(`egress-warm-stations-${owner.replace(':', '-')}-`),
    );
    assert.equal(dirs.length, 2, `the PulseAudio and the warm-station directory: ${dirs.join(', ')}`);
    // Not asserted: a worker starting elsewhere on this machine may reap it at any moment.
    t.diagnostic(`display :${display}'s socket file ${existsSync(xSocket(display)) ? 'left behind' : 'already reaped'}`);
    crashed = { owner, dirs: dirs.map((name) => join(workerTmp, name)), display };
  });

  test("the next worker reaps them and simulated leftovers of dead owners; a live owner's processes, display and directories, and the salvage's files stay", async () => {
    assert.ok(crashed, 'the warm worker crashed above');
    // Dead owners: a pid that has exited; this process's pid with another start time (a reused pid).
    const deadPid = spawnSync('true').pid;
    const reusedPid = `${process.pid}:1`;
    const lone = orphan(reusedPid, 'exec sleep 600');
    // Like Chromium: the leader carries the tag, a member of its group does not show it.
    const group = orphan(`${deadPid}:1`, 'env -u EGRESS_OWNER sleep 600 & wait');
    await until('the simulated group has its member', async () => (await processesInGroups(new Set([group.pid!]))).length === 2, 5_000);
    // An X server of a dead owner on a display of its own: killed, it leaves its lock file and socket.
    const orphanDisplay = unusedDisplay();
    staleFiles.push(xLock(orphanDisplay), xSocket(orphanDisplay));
    const orphanXvfb = orphan(`${deadPid}:1`, `exec Xvfb :${orphanDisplay} -screen 0 320x240x24 -nolisten tcp`);
    await until('the orphaned Xvfb listens', async () => (await listeningDisplays()).has(orphanDisplay) && existsSync(xLock(orphanDisplay)), 10_000);
    const deadDir = join(workerTmp, `egress-pulse-${deadPid}-1-AbC123`);
    const oldUnowned = join(workerTmp, 'egress-pulse-Old123');
    const profileOfDead = join(service.config.tmp_dir, 'EG_dead', 'chromium-profile');
    const captureOfDead = join(service.config.tmp_dir, 'EG_dead', 'capture.mp4');
    await mkdir(profileOfDead, { recursive: true });
    await symlink(`${hostname()}-${deadPid}`, join(profileOfDead, 'SingletonLock'));
    await writeFile(captureOfDead, 'what the salvage delivers');

    // A live owner (this process): a process, an X display, a directory, and an older-version directory a
    // running process still uses, a Chromium profile whose browser runs.
    const liveDir = join(workerTmp, `egress-pulse-${OWN_OWNER.replace(':', '-')}-Liv123`);
    const usedUnowned = join(workerTmp, 'egress-pulse-Use123');
    live.push(spawnSupervised('sleep', 'sleep', ['600'], { env: { ...process.env, PULSE_RUNTIME_PATH: usedUnowned }, stdio: 'ignore' }));
    const liveDisplay = Number((await startXvfb(liveSupervisor, { width: 320, height: 240, depth: 24 })).display.slice(1));
    const profileOfLive = join(service.config.tmp_dir, 'EG_live', 'chromium-profile');
    await mkdir(profileOfLive, { recursive: true });
    await symlink(`${hostname()}-${process.pid}`, join(profileOfLive, 'SingletonLock'));
    for (const dir of [deadDir, oldUnowned, liveDir, usedUnowned]) await mkdir(dir);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const dir of [oldUnowned, usedUnowned]) await utimes(dir, twoHoursAgo, twoHoursAgo);

    const worker = spawnWorker(service, ['track'], { TMPDIR: workerTmp });
    workers.push(worker);
    const { display } = crashed;
    await until("the crashed worker's directories are reaped", () => crashed!.dirs.every((dir) => !existsSync(dir)), 30_000);
    await until("the dead owners' profile is reaped (the last step)", () => !existsSync(profileOfDead), 10_000);
    // Another Xvfb on this machine may have taken the freed display meanwhile: then the socket is its.
    assert.ok(!existsSync(xSocket(display)) || (await listeningDisplays()).has(display), "the dead Xvfb's socket file is gone");
    assert.ok(!alive(orphanXvfb.pid!), "the dead owner's X server");
    assert.ok(!existsSync(xLock(orphanDisplay)) && !existsSync(xSocket(orphanDisplay)), 'its lock file and socket');
    assert.ok(!alive(lone.pid!), "the process of a reused pid's owner");
    assert.deepEqual(await processesInGroups(new Set([group.pid!])), [], "the dead owner's group, its untagged member too");
    assert.ok(!existsSync(deadDir) && !existsSync(oldUnowned), "the dead owner's directory and an unused older-version one");

    assert.ok(alive(worker.pid!), 'the new worker runs');
    assert.ok(
      live.every((child) => alive(child.pid!)),
      "the live owner's process",
    );
    assert.ok(existsSync(xSocket(liveDisplay)), "the live owner's display");
    assert.equal((await processesOwnedBy(OWN_OWNER)).filter((p) => basename(p.command) === 'Xvfb').length, 1, 'its Xvfb');
    assert.ok(existsSync(liveDir) && existsSync(usedUnowned), "the live owner's directory and the older-version one in use");
    assert.ok(existsSync(profileOfLive), 'the profile of a running browser');
    assert.ok(existsSync(captureOfDead), "the recording working directory (the salvage's)");
  });
});

test('this test process leaves nothing running: no process carries its owner tag after the teardown', async () => {
  assert.deepEqual(await processesOwnedBy(OWN_OWNER, [watchdogPid()]), []);
});
