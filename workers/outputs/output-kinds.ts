/**
 * The registry of output kinds a worker runs, in the order their results and manifest place are taken (the
 * manifest goes beside the file, else the playlist, else the first images). A new kind is a module with an
 * OutputPlugin (output-plugin.ts) and a line here: RecordingStart.outputs (RecordingOutputs) is derived from
 * this list, and the finalize job walks it.
 */
import type { EgressPlan } from '../../shared/egress-plan.ts';
import { fileOutput } from './file-output.ts';
import { imagesOutput } from './images-output.ts';
import type { OutputOpening, OutputPlugin, RunningOutput } from './output-plugin.ts';
import { segmentsOutput } from './segments-output.ts';
import { streamsOutput } from './streams-output.ts';
import { websocketOutput } from './websocket-output.ts';

export const OUTPUT_PLUGINS = [fileOutput, segmentsOutput, streamsOutput, imagesOutput, websocketOutput] as const;

type RegisteredPlugin = (typeof OUTPUT_PLUGINS)[number];
/** A plugin's entry of the recorder's outputs: `{ <kind>?: <its wiring> }`. */
type EntryOf<P> = P extends { open(opening: OutputOpening): Promise<RunningOutput<infer Entry>> } ? Entry : never;

/** The outputs of one recording, by kind (each registered kind's wiring): a typed collection, never indexed by a caller's string. */
export type RegisteredOutputs = { [P in RegisteredPlugin as P['kind']]?: NonNullable<EntryOf<P>[keyof EntryOf<P>]> };

/** The kinds a plan has, in registry order. */
export function outputPluginsOf(plan: EgressPlan): OutputPlugin[] {
  return OUTPUT_PLUGINS.filter((plugin) => plugin.inPlan(plan));
}
