/**
 * The layout a template recorder opens with and passes on late (workers/room/late-layout.ts), for both kinds
 * of egress that have layouts: a room composite and a v2 StartEgress with a template source.
 */
import { EgressInfo, RoomCompositeEgressRequest, StartEgressRequest, TemplateSource, WebEgressRequest } from '@livekit/protocol';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EgressPlan } from '../../../shared/egress-plan.ts';
import { layoutChangedSince, withStoredLayout } from '../../../workers/room/late-layout.ts';
import { webPlan } from '../../support/plans.ts';

const templatePlan = (layout: string): EgressPlan => ({
  ...webPlan({ url: 'https://example.com' }),
  source: { kind: 'template', layout, baseUrl: '' },
});
const roomComposite = (layout: string) =>
  new EgressInfo({ request: { case: 'roomComposite', value: new RoomCompositeEgressRequest({ roomName: 'r', layout }) } });
const v2Template = (layout: string) =>
  new EgressInfo({
    request: {
      case: 'egress',
      value: new StartEgressRequest({ roomName: 'r', source: { case: 'template', value: new TemplateSource({ layout }) } }),
    },
  });

describe('late layout', () => {
  for (const [kind, stored] of [
    ['room composite', roomComposite],
    ['StartEgress template', v2Template],
  ] as const) {
    test(`${kind}: the template opens with the stored layout, and a later one is found changed`, () => {
      const opened = withStoredLayout(templatePlan('grid'), stored('single-speaker'));
      assert.deepEqual(opened.source, { kind: 'template', layout: 'single-speaker', baseUrl: '' });
      assert.equal(layoutChangedSince(opened, stored('single-speaker')), undefined);
      assert.equal(layoutChangedSince(opened, stored('speaker')), 'speaker');
    });
  }

  test('no stored layout, or an egress without layouts: the plan as queued', () => {
    const plan = templatePlan('grid');
    assert.equal(withStoredLayout(plan, undefined), plan);
    assert.equal(withStoredLayout(plan, roomComposite('')), plan);
    const web = webPlan({ url: 'https://example.com' });
    const webInfo = new EgressInfo({ request: { case: 'web', value: new WebEgressRequest({ url: 'https://example.com' }) } });
    assert.equal(withStoredLayout(web, webInfo), web);
    assert.equal(layoutChangedSince(web, roomComposite('speaker')), undefined);
  });
});
