/**
 * One output kind as a request names it (file, stream, segments, images; the registry is kinds.ts): how it
 * is gathered from a v1 or v2 request, its count and bound rules, its checks, what it implies for audio,
 * video, codecs and keyframes, its secrets (upload configs, stream URLs) and its part of the plan. gather.ts,
 * check.ts and encoded.ts only ever talk to this interface, so a new kind needs no edit there.
 */
import type { StartEgressRequest } from '@livekit/protocol';
import type { EgressPlan, FileType } from '../../../shared/egress-plan.ts';
import type { Container } from '../../../shared/encoding.ts';
import { invalidField } from '../../../shared/errors.ts';
import type { Limits } from '../../../shared/limits.ts';
import type { NamingVars } from '../../../shared/naming.ts';
import type { ResolvedStreamUrl } from '../stream-url.ts';
import type { V1Outputs } from './gather.ts';
import type { OutputContext } from './output-context.ts';
import type { UploadChoice } from './upload-storage.ts';

/** One entry of a v2 request's `outputs` list. */
export type V2Output = StartEgressRequest['outputs'][number];

/** What every plan has whatever its outputs: a kind fills none of it. */
type PlanCommon = 'egressId' | 'requestKind' | 'roomName' | 'source' | 'audio' | 'video' | 'encoding' | 'requestedAt' | 'maxDurationSec';

/** The plan's per-kind output fields a kind fills (a plan is job data: these fields are its shape, shared/egress-plan.ts). */
export type OutputsPlan = Partial<Omit<EgressPlan, PlanCommon>>;

/** What the plan parts may depend on once every kind is checked and the codecs are chosen. */
export interface Settled {
  /** What the codecs made of a DEFAULT_FILETYPE file. */
  chosenFileType?: FileType;
  vars: NamingVars;
  /** The encoding's keyframe interval as requested (0: none asked). */
  keyFrameIntervalSec: number;
  /** Another checked kind is live (a stream): segments shorten to a requested keyframe interval. */
  liveAlongside: boolean;
}

/** One kind after its checks: what it implies, its secrets, and its part of the plan once settled. */
export interface CheckedKind {
  readonly name: string;
  /** Records audio (images alone do not: nothing would carry it). */
  readonly carriesAudio: boolean;
  /** Rules video out (a WebSocket carries raw audio only). */
  readonly noVideo?: boolean;
  /** Its container, for the codec negotiation (`default`: a DEFAULT_FILETYPE file, chosen from the codecs). */
  readonly container?: Container | 'default';
  /** Cut at keyframes (segments): the encoder's keyframe interval is left to it. */
  readonly ownsKeyframes?: boolean;
  /** The keyframe interval it needs when none is asked (a lone stream: LiveKit's 4 s). */
  readonly defaultKeyframeSec?: number;
  readonly live?: boolean;
  /** Real stream URLs, checked: sealed as secrets. */
  readonly streamTargets?: readonly ResolvedStreamUrl[];
  plan(settled: Settled): OutputsPlan;
}

/** What a kind's checks may consult: the request's context, the other kinds, and video as settled so far. */
export interface CheckContext extends OutputContext {
  /** Any other kind was requested. */
  othersRequested: boolean;
}

/** One kind's requests, gathered: what check.ts walks, phase by phase (kinds.ts says the order). */
export interface GatheredKind {
  readonly name: string;
  readonly requested: number;
  /** Their upload configs: the request's storage secrets. */
  readonly uploads: readonly UploadChoice[];
  /** Phase 1: how many of it a request may have. */
  checkCount(limits: Limits): void;
  /** Phase 2: bounds inside one output (stream URLs). */
  checkBounds?(limits: Limits): void;
  /** Phase 3 (early) or 5 (late: it needs video settled by the early kinds, as images do). */
  readonly late?: boolean;
  /** Its rules; undefined when none was requested. */
  check(ctx: CheckContext): CheckedKind | undefined;
}

/** A kind's rules over its gathered requests (GatheredKind without what requestOutputKind fills in). */
export interface KindRules {
  checkCount(limits: Limits): void;
  checkBounds?(limits: Limits): void;
  readonly late?: boolean;
  check(ctx: CheckContext): Omit<CheckedKind, 'name'> | undefined;
}

/** A kind, as its module declares it: `Requested` is one request of it in the shape gathering gives. */
export interface RequestKindSpec<Requested> {
  readonly name: string;
  fromV1(request: V1Outputs): Requested[];
  /** Its request from a v2 `outputs` entry, undefined if the entry is another kind's. */
  fromV2(output: V2Output, request: StartEgressRequest): Requested | undefined;
  /** Its upload config, for a stored kind: the request's storage secrets. */
  readonly uploadOf?: (requested: Requested) => UploadChoice;
  rules(list: readonly Requested[]): KindRules;
}

/** A kind as the registry holds it: its own types hidden behind GatheredKind. */
export interface RequestOutputKind {
  readonly name: string;
  fromV1(request: V1Outputs): GatheredKind;
  /** Collects the v2 entries that are its own (`take` says whether it took one). */
  v2Collector(request: StartEgressRequest): { take(output: V2Output): boolean; done(): GatheredKind };
}

export function requestOutputKind<Requested>(spec: RequestKindSpec<Requested>): RequestOutputKind {
  const { name, uploadOf } = spec;
  const gathered = (list: readonly Requested[]): GatheredKind => {
    const rules = spec.rules(list);
    return {
      ...rules,
      name,
      requested: list.length,
      uploads: uploadOf ? list.map(uploadOf) : [],
      check: (ctx) => {
        const checked = rules.check(ctx);
        return checked && { ...checked, name };
      },
    };
  };
  return {
    name,
    fromV1: (request) => gathered(spec.fromV1(request)),
    v2Collector: (request) => {
      const list: Requested[] = [];
      return {
        take: (output) => {
          const taken = spec.fromV2(output, request);
          if (taken !== undefined) list.push(taken);
          return taken !== undefined;
        },
        done: () => gathered(list),
      };
    },
  };
}

/** At most one of a kind (LiveKit's message `field`), its bounds and checks applied to that one. */
export function atMostOne<Requested>(
  field: string,
  check: (one: Requested, ctx: CheckContext) => Omit<CheckedKind, 'name'>,
  bounds?: (one: Requested, limits: Limits) => void,
): (list: readonly Requested[]) => KindRules {
  const single = (list: readonly Requested[]) => {
    if (list.length > 1) throw invalidField(field);
    return list[0];
  };
  return (list) => ({
    checkCount: () => void single(list),
    ...(bounds ? { checkBounds: (limits: Limits) => list[0] && bounds(list[0], limits) } : {}),
    check: (ctx) => {
      const one = single(list);
      return one && check(one, ctx);
    },
  });
}
