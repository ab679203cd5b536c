/**
 * The offer a track egress hands werift (workers/track/track-subscriber.ts `offerForTrack`), on an offer as a
 * LiveKit server writes it: only the payload types of the track's m-line change; every other line, an msid
 * with a `|` and candidates with their ufrag included, stays byte for byte as the server wrote it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offerForTrack } from '../../../workers/track/track-subscriber.ts';

const OFFER = [
  'v=0',
  'o=- 3720848436654958845 1796512875 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=msid-semantic:WMS *',
  'a=extmap-allow-mixed',
  'a=group:BUNDLE 0 1',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=setup:actpass',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=candidate:2878742611 1 udp 2130706431 127.0.0.1 44847 typ host ufrag yWLcyztNJPDwwcAx',
  'a=end-of-candidates',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0 8',
  'c=IN IP4 0.0.0.0',
  'a=setup:actpass',
  'a=mid:1',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtcp-fb:111 nack',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:0 PCMU/8000',
  'a=rtcp-fb:0 nack',
  'a=rtpmap:8 PCMA/8000',
  'a=rtcp-fb:8 nack',
  'a=rtcp-fb:* transport-cc',
  'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'a=ssrc:867728613 msid:PA_9UZk8zDNwwUh|TR_AMNaZnWFcNFYGT TR_AMNaZnWFcNFYGT',
  'a=msid:PA_9UZk8zDNwwUh|TR_AMNaZnWFcNFYGT TR_AMNaZnWFcNFYGT',
  'a=sendrecv',
  '',
].join('\r\n');

test('Track/Offer: a LiveKit offer keeps every line but the other codecs of our m-line', () => {
  const pcmu = offerForTrack(OFFER, '1', 'audio/PCMU');
  const dropped = [
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtcp-fb:111 nack',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:8 PCMA/8000',
    'a=rtcp-fb:8 nack',
  ];
  const expected = OFFER.split('\r\n')
    .filter((line) => !dropped.includes(line))
    .map((line) => (line === 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 0 8' ? 'm=audio 9 UDP/TLS/RTP/SAVPF 0' : line))
    .join('\r\n');
  assert.equal(pcmu, expected);
  assert.match(offerForTrack(OFFER, '1', 'audio/PCMA'), /m=audio 9 UDP\/TLS\/RTP\/SAVPF 8\r\n[^]*a=rtcp-fb:8 nack\r\na=rtcp-fb:\* transport-cc/);
  assert.equal(offerForTrack(OFFER, '1', 'audio/G722'), OFFER, 'not offered: untouched');
  assert.equal(offerForTrack(OFFER, '7', 'audio/PCMU'), OFFER, 'no such m-line: untouched');
});
