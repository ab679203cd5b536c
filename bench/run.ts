/** `npm run bench`: every benchmark, each reported beside a baseline measured in the same run. */
import { benchRoomCompositeCost } from './room-composite-cost.ts';
import { benchRpcAccept } from './rpc-accept.ts';
import { benchScaleFromZero } from './scale-from-zero.ts';
import { benchTakeoverGap } from './takeover-gap.ts';
import { benchTrackEgressCost } from './track-egress-cost.ts';
import { benchUploadThroughput } from './upload-throughput.ts';
import { benchWebCaptureCost } from './web-capture-cost.ts';
import { benchWebConcurrency } from './web-concurrency.ts';
import { benchWebOutputsCost } from './web-outputs-cost.ts';
import { benchWebStartLatency } from './web-start-latency.ts';

const only = process.argv[2];
const benches: Record<string, () => Promise<string[]>> = {
  'rpc-accept': benchRpcAccept,
  'web-start': benchWebStartLatency,
  'web-cost': benchWebCaptureCost,
  'outputs-cost': benchWebOutputsCost,
  concurrency: benchWebConcurrency,
  'room-composite': benchRoomCompositeCost,
  'track-cost': benchTrackEgressCost,
  upload: benchUploadThroughput,
  'scale-from-zero': benchScaleFromZero,
  takeover: benchTakeoverGap,
};
for (const [name, run] of Object.entries(benches)) {
  if (only && only !== name) continue;
  const lines = await run();
  process.stdout.write(lines.join('\n') + '\n\n');
}
process.exit(0);
