/**
 * The WebSocket output of a track egress: the recorder sends the track's raw audio to the real URL, read from
 * the sealed secrets at the start (job data holds only its redacted form). It leaves nothing to upload.
 */
import type { OutputPluginOf } from './output-plugin.ts';

/** Track egress with a WebSocket output: the real URL (from the sealed secrets, never in job data). */
export interface WebsocketWiring {
  url: string;
}

export const websocketOutput: OutputPluginOf<'websocket', WebsocketWiring> = {
  kind: 'websocket',
  inPlan: (plan) => plan.stream?.protocol === 'websocket',
  maxDuration: 'stream_output_max_duration',
  live: true,
  open: async ({ ctx, plan }) => {
    const url = (await ctx.secrets.get(plan.egressId)).streams[0]?.url;
    return { wiring: url ? { websocket: { url } } : {} };
  },
};
