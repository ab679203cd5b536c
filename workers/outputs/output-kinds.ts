/**
 * The registry of output kinds a worker runs, in the order their results and manifest place are taken (the
 * manifest goes beside the file, else the playlist, else the first images). A new kind is a module with an
 * OutputPlugin (output-plugin.ts) and a line here.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { fileOutput } from './file-output.ts';
import { imagesOutput } from './images-output.ts';
import type { OutputPlugin } from './output-plugin.ts';
import { segmentsOutput } from './segments-output.ts';
import { streamsOutput } from './streams-output.ts';
import { websocketOutput } from './websocket-output.ts';

export const OUTPUT_PLUGINS: readonly OutputPlugin[] = [fileOutput, segmentsOutput, streamsOutput, imagesOutput, websocketOutput];

/** The kinds a plan has, in registry order. */
export function outputPluginsOf(plan: EgressPlan): OutputPlugin[] {
  return OUTPUT_PLUGINS.filter((plugin) => plugin.inPlan(plan));
}
