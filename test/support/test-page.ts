/**
 * A local page to record in tests: a full-window canvas in a known solid colour with a white block
 * moving across its middle band, and a 440 Hz WebAudio tone (autoplays under Chromium's
 * autoplay-policy flag). Query options:
 *   signal=start  log START_RECORDING 1 s after load (unless held: holdStartSignal)
 *   end=<sec>     log END_RECORDING <sec> s after load
 *   status=<code> answer with that HTTP status instead of 200
 * The background can be changed for later loads (setColour): a recording taken over by another worker
 * reloads the page, so its parts show which worker recorded them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The page's background: rows outside the moving block's band show exactly this colour. */
export const PAGE_COLOUR = { r: 32, g: 96, b: 192 } as const;
/** The band (fractions of the height) the moving block stays in; outside it only PAGE_COLOUR shows. */
export const BLOCK_BAND = { top: 0.4, bottom: 0.6 } as const;
/** Seconds the block takes to cross the page, left to right, before it starts over. */
export const BLOCK_PERIOD_SEC = 2;
export const TONE_HZ = 440;

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export interface TestPage {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** The background of the page as loaded from now on (PAGE_COLOUR until then). */
  setColour(colour: Rgb): void;
  /** Whether pages loaded from now on keep their START_RECORDING back, whatever `signal=start` asks (false until then). */
  holdStartSignal(held: boolean): void;
  close(): Promise<void>;
}

const html = (colour: Rgb, signalHeld: boolean) => `<!doctype html>
<html><head><meta charset="utf-8"><title>egress test page</title>
<style>html, body { margin: 0; height: 100%; overflow: hidden; } canvas { display: block; }</style>
</head><body><canvas id="c"></canvas><script>
const options = new URLSearchParams(location.search);
const canvas = document.getElementById('c');
const g = canvas.getContext('2d');
function draw(now) {
  canvas.width = innerWidth;
  canvas.height = innerHeight;
  g.fillStyle = 'rgb(${colour.r}, ${colour.g}, ${colour.b})';
  g.fillRect(0, 0, canvas.width, canvas.height);
  const size = canvas.height * ${BLOCK_BAND.bottom - BLOCK_BAND.top};
  const x = ((now / ${BLOCK_PERIOD_SEC * 1000}) % 1) * (canvas.width - size);
  g.fillStyle = '#fff';
  g.fillRect(x, canvas.height * ${BLOCK_BAND.top}, size, size);
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);

const audio = new AudioContext();
const tone = audio.createOscillator();
const gain = audio.createGain();
tone.frequency.value = ${TONE_HZ};
gain.gain.value = 0.5;
tone.connect(gain).connect(audio.destination);
tone.start();

if (options.get('signal') === 'start' && !${signalHeld}) setTimeout(() => console.log('START_RECORDING'), 1000);
if (options.has('end')) setTimeout(() => console.log('END_RECORDING'), Number(options.get('end')) * 1000);
</script></body></html>`;

export async function startTestPage(): Promise<TestPage> {
  let colour: Rgb = PAGE_COLOUR;
  let signalHeld = false;
  const server = createServer((req, res) => {
    const status = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('status') ?? 200);
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html(colour, signalHeld));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    setColour: (next) => (colour = next),
    holdStartSignal: (held) => (signalHeld = held),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
