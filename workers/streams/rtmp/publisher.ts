/**
 * An RTMP publisher on a socket we connected (to a checked address; TLS with the host's name for RTMPS):
 * handshake, connect, releaseStream, FCPublish, createStream, publish — what OBS and ffmpeg send — then
 * FLV tags as audio, video and `@setDataFrame` messages. It answers pings, acknowledges what the server
 * sends, and turns `_error` and error-level `onStatus` answers into errors naming the server's code.
 *
 * Progress (for the stream's liveness window) is what the server acknowledges: we ask for an
 * acknowledgement every 64 KiB (Window Acknowledgement Size), so a server that stops taking data shows at
 * once, however much the kernel's buffers still hold. Until its first acknowledgement (or from a server
 * that never sends one), it is what was handed to the kernel.
 */
import type { Socket } from 'node:net';
import { decodeAmf0, encodeAmf0, type AmfObject, type AmfValue } from './amf0.ts';
import { chunkMessage, ChunkReader, type RtmpMessage } from './chunks.ts';
import type { FlvTag } from './flv-tags.ts';
import { answerServer, clientHello } from './handshake.ts';

export interface PublishTarget {
  app: string;
  streamKey: string;
  tcUrl: string;
}

const OUT_CHUNK_SIZE = 4096;
const ACK_WINDOW_BYTES = 64 * 1024;
/** Chunk streams: protocol control, commands, audio, video, data (as ffmpeg numbers them). */
const CS_CONTROL = 2;
const CS_COMMAND = 3;
const CS_AUDIO = 4;
const CS_VIDEO = 6;
const CS_DATA = 5;

const MSG_SET_CHUNK_SIZE = 1;
const MSG_ACK = 3;
const MSG_USER_CONTROL = 4;
const MSG_WINDOW_ACK_SIZE = 5;
const MSG_AUDIO = 8;
const MSG_VIDEO = 9;
const MSG_AMF3_COMMAND = 17;
const MSG_DATA = 18;
const MSG_AMF0_COMMAND = 20;
const PING_REQUEST = 6;
const PING_RESPONSE = 7;

const TX_CONNECT = 1;
const TX_CREATE_STREAM = 4;

/** Why a publication failed, in words fit for StreamInfo.error (the sink scrubs the key from them). */
export class PublishError extends Error {
  override name = 'PublishError';
}

const text = (value: AmfValue): string => (typeof value === 'string' ? value : '');
const isObject = (value: AmfValue): value is AmfObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);

/** Node's socket error codes in the words ffmpeg (and so StreamInfo errors so far) used. */
const SOCKET_ERRORS: ReadonlyMap<string, string> = new Map([
  ['ECONNREFUSED', 'Connection refused'],
  ['ECONNRESET', 'Connection reset by peer'],
  ['ETIMEDOUT', 'Connection timed out'],
  ['EHOSTUNREACH', 'No route to host'],
  ['ENETUNREACH', 'Network is unreachable'],
  ['EPIPE', 'Broken pipe'],
]);

export function describeSocketError(err: NodeJS.ErrnoException): string {
  return (err.code && SOCKET_ERRORS.get(err.code)) ?? err.message;
}

export class RtmpPublisher {
  /** Resolves once the server said NetStream.Publish.Start. */
  readonly published: Promise<void>;
  /** Settles when the connection is over: undefined after close() went through, else what went wrong. */
  readonly closed: Promise<PublishError | undefined>;
  readonly #socket: Socket;
  readonly #target: PublishTarget;
  readonly #reader = new ChunkReader();
  #handshake: Buffer | undefined = Buffer.alloc(0);
  #streamId = 0;
  #publishing = false;
  #closing = false;
  #settle!: (error: PublishError | undefined) => void;
  #publishedResolve!: () => void;
  #publishedReject!: (error: PublishError) => void;
  /** Bytes handed to write() (media only, from the publish on). */
  #written = 0;
  #receivedBytes = 0;
  #lastAckSent = 0;
  #serverWindow = 0;
  /** Server acknowledgements: the last sequence number, and progress counted from them. */
  #lastAck: number | undefined;
  #ackedProgress = 0;

  constructor(socket: Socket, target: PublishTarget, connected: 'connect' | 'secureConnect') {
    this.#socket = socket;
    this.#target = target;
    this.published = new Promise((resolve, reject) => {
      this.#publishedResolve = resolve;
      this.#publishedReject = reject;
    });
    // Nobody may be waiting for `published` when it fails; `closed` says so too.
    this.published.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#settle = resolve));
    socket.once(connected, () => socket.write(clientHello()));
    socket.on('data', (data: Buffer) => this.#receive(data));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.#failed(new PublishError(this.#publishing ? `connection lost: ${describeSocketError(err)}` : describeSocketError(err))),
    );
    socket.on('close', () => {
      if (this.#closing) return this.#finish(undefined);
      this.#failed(
        new PublishError(
          this.#publishing
            ? 'the server closed the connection'
            : 'the server closed the connection before the stream was published (stream key refused?)',
        ),
      );
    });
  }

  get publishing(): boolean {
    return this.#publishing;
  }

  /**
   * Bytes of the stream the server has taken: from its acknowledgements once it sends them (counted from
   * what had been written by then), until then what was handed to the kernel.
   */
  get progressBytes(): number {
    if (this.#lastAck !== undefined) return this.#ackedProgress;
    return Math.max(0, this.#written - this.#socket.writableLength);
  }

  /** One FLV tag as its RTMP message; false when the socket's buffer is full (wait for `drain`). */
  writeTag(tag: FlvTag): boolean {
    if (!this.#publishing || this.#closing) return true;
    if (tag.typeId === MSG_DATA) {
      // Metadata is set on the stream, not played: ffmpeg and OBS wrap onMetaData the same way.
      return this.#send(CS_DATA, {
        typeId: MSG_DATA,
        streamId: this.#streamId,
        timestamp: 0,
        payload: Buffer.concat([encodeAmf0('@setDataFrame'), tag.data]),
      });
    }
    if (tag.typeId !== MSG_AUDIO && tag.typeId !== MSG_VIDEO) return true;
    return this.#send(tag.typeId === MSG_AUDIO ? CS_AUDIO : CS_VIDEO, {
      typeId: tag.typeId,
      streamId: this.#streamId,
      timestamp: tag.timestamp,
      payload: tag.data,
    });
  }

  onDrain(callback: () => void): void {
    this.#socket.once('drain', callback);
  }

  /** Ends the publication as ffmpeg does (FCUnpublish, deleteStream), then the connection. */
  async close(): Promise<void> {
    if (!this.#closing && !this.#socket.destroyed) {
      this.#closing = true;
      if (this.#publishing) {
        this.#command('FCUnpublish', 0, null, this.#target.streamKey);
        this.#command('deleteStream', 0, null, this.#streamId);
      }
      this.#socket.end();
    }
    await this.closed;
  }

  destroy(): void {
    this.#closing = true;
    this.#socket.destroy();
    this.#finish(undefined);
  }

  #send(csid: number, message: RtmpMessage): boolean {
    // One write per message: a video frame is a few dozen chunks.
    const data = Buffer.concat(chunkMessage(csid, message, OUT_CHUNK_SIZE));
    if (this.#publishing) this.#written += data.length;
    return this.#socket.write(data);
  }

  #control(typeId: number, payload: Buffer): void {
    this.#send(CS_CONTROL, { typeId, streamId: 0, timestamp: 0, payload });
  }

  #command(name: string, transaction: number, ...args: AmfValue[]): void {
    this.#send(CS_COMMAND, {
      typeId: MSG_AMF0_COMMAND,
      streamId: name === 'publish' ? this.#streamId : 0,
      timestamp: 0,
      payload: encodeAmf0(name, transaction, ...args),
    });
  }

  #receive(data: Buffer): void {
    try {
      if (this.#handshake) {
        const received = Buffer.concat([this.#handshake, data]);
        const answer = answerServer(received);
        if (!answer) {
          this.#handshake = received;
          return;
        }
        this.#handshake = undefined;
        this.#socket.write(answer.c2);
        this.#start();
        if (answer.rest.length) this.#receive(answer.rest);
        return;
      }
      this.#acknowledge(data.length);
      for (const message of this.#reader.push(data)) this.#handle(message);
    } catch (err) {
      this.#failed(new PublishError(`protocol error: ${(err as Error).message}`));
    }
  }

  /** After the handshake: our chunk size and acknowledgement window, then connect. */
  #start(): void {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(OUT_CHUNK_SIZE);
    this.#control(MSG_SET_CHUNK_SIZE, size);
    const window = Buffer.alloc(4);
    window.writeUInt32BE(ACK_WINDOW_BYTES);
    this.#control(MSG_WINDOW_ACK_SIZE, window);
    const { app, tcUrl } = this.#target;
    this.#command('connect', TX_CONNECT, { app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; egress-queue)', tcUrl });
  }

  /** We acknowledge the server's bytes every window it asked for. */
  #acknowledge(bytes: number): void {
    this.#receivedBytes = (this.#receivedBytes + bytes) % 2 ** 32;
    if (this.#serverWindow > 0 && (this.#receivedBytes - this.#lastAckSent + 2 ** 32) % 2 ** 32 >= this.#serverWindow) {
      this.#lastAckSent = this.#receivedBytes;
      const ack = Buffer.alloc(4);
      ack.writeUInt32BE(this.#receivedBytes);
      this.#control(MSG_ACK, ack);
    }
  }

  #handle(message: RtmpMessage): void {
    const { typeId, payload } = message;
    switch (typeId) {
      case MSG_ACK:
        return this.#acked(payload.readUInt32BE(0));
      case MSG_WINDOW_ACK_SIZE:
        this.#serverWindow = payload.readUInt32BE(0);
        return;
      case MSG_USER_CONTROL:
        if (payload.readUInt16BE(0) === PING_REQUEST) {
          const pong = Buffer.from(payload);
          pong.writeUInt16BE(PING_RESPONSE, 0);
          this.#control(MSG_USER_CONTROL, pong);
        }
        return;
      case MSG_AMF0_COMMAND:
        return this.#onCommand(decodeAmf0(payload));
      case MSG_AMF3_COMMAND:
        return this.#onCommand(decodeAmf0(payload.subarray(1)));
      default:
        // Set Chunk Size and Abort (the reader applied them), Set Peer Bandwidth, data: nothing to do here.
        return;
    }
  }

  #acked(sequence: number): void {
    const before = this.#lastAck;
    this.#lastAck = sequence;
    if (before === undefined) {
      // Counting from acknowledgements starts where the kernel count stood, so progress never goes back.
      this.#ackedProgress = Math.max(0, this.#written - this.#socket.writableLength);
      return;
    }
    // nginx-rtmp restarts its count at 0xf0000000: a smaller number is a fresh count.
    this.#ackedProgress += sequence >= before ? sequence - before : sequence;
  }

  #onCommand(values: AmfValue[]): void {
    const [name, transaction, , ...args] = values;
    const info = args.find(isObject);
    if (name === '_result' && transaction === TX_CONNECT) {
      const { streamKey } = this.#target;
      this.#command('releaseStream', 2, null, streamKey);
      this.#command('FCPublish', 3, null, streamKey);
      this.#command('createStream', TX_CREATE_STREAM, null);
    } else if (name === '_result' && transaction === TX_CREATE_STREAM) {
      const id = args.find((v): v is number => typeof v === 'number');
      if (id === undefined) return this.#failed(new PublishError('createStream answered without a stream id'));
      this.#streamId = id;
      this.#command('publish', 5, null, this.#target.streamKey, 'live');
    } else if (name === '_error' && (transaction === TX_CONNECT || transaction === TX_CREATE_STREAM)) {
      const step = transaction === TX_CONNECT ? 'connect' : 'createStream';
      this.#failed(
        new PublishError(
          `${step} refused by the server: ${[text(info?.code), text(info?.description)].filter(Boolean).join(': ') || 'no reason given'}`,
        ),
      );
    } else if (name === 'onStatus') {
      const code = text(info?.code);
      if (text(info?.level) === 'error') {
        this.#failed(
          new PublishError(`publish refused by the server: ${[code, text(info?.description)].filter(Boolean).join(': ') || 'no reason given'}`),
        );
      } else if (code === 'NetStream.Publish.Start' && !this.#publishing) {
        this.#publishing = true;
        this.#publishedResolve();
      }
    }
    // onBWDone, onFCPublish, _result of releaseStream / FCPublish and the like need no answer.
  }

  #failed(error: PublishError): void {
    if (this.#closing) return this.#finish(undefined);
    this.#closing = true;
    this.#publishedReject(error);
    this.#socket.destroy();
    this.#finish(error);
  }

  #finish(error: PublishError | undefined): void {
    this.#publishedReject(new PublishError('closed before the stream was published'));
    this.#settle(error);
  }
}
