/** A live encode like the recorder's, for stream sink tests: H.264 + AAC in MPEG-TS on stdout, in real time. */
import type { SupervisedProcess, Supervisor } from '../../workers/process/processes.ts';

export function startLiveSource(supervisor: Supervisor, seconds: number): SupervisedProcess {
  return supervisor.spawn('test-source', 'ffmpeg', [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    '60',
    '-c:a',
    'aac',
    '-f',
    'mpegts',
    'pipe:1',
  ]);
}
