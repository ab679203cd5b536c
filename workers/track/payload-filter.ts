/**
 * Which received RTP packets are media of the negotiated codec: packets of another payload type (an in-band
 * codec change, or padding sent on another type: a file of this codec cannot take them; warned once,
 * counted) and padding-only packets are not.
 */
import type { Logger } from 'pino';
import type { RtpPacket } from 'werift';

export class PayloadFilter {
  /** Packets of another payload type, so far. */
  wrongPayloadType = 0;
  private readonly payloadType: number;
  private readonly log: Logger;

  constructor(payloadType: number, log: Logger) {
    this.payloadType = payloadType;
    this.log = log;
  }

  accepts(rtp: RtpPacket): boolean {
    if (rtp.header.payloadType !== this.payloadType) {
      if (this.wrongPayloadType++ === 0)
        this.log.warn({ payloadType: rtp.header.payloadType, expected: this.payloadType }, 'RTP with another payload type ignored');
      return false;
    }
    return rtp.payload.length > 0;
  }
}
