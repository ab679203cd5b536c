/**
 * AMF0, as much as an RTMP publisher needs: commands out (numbers, strings, booleans, null, objects),
 * servers' answers in (those, ECMA arrays, strict arrays, dates, undefined). Objects decode into
 * null-prototype records: their keys come from the server.
 */

export type AmfValue = number | string | boolean | null | undefined | Date | AmfObject | AmfValue[];
export interface AmfObject {
  [key: string]: AmfValue;
}

const NUMBER = 0x00;
const BOOLEAN = 0x01;
const STRING = 0x02;
const OBJECT = 0x03;
const NULL = 0x05;
const UNDEFINED = 0x06;
const ECMA_ARRAY = 0x08;
const OBJECT_END = 0x09;
const STRICT_ARRAY = 0x0a;
const DATE = 0x0b;
const LONG_STRING = 0x0c;

function encodeString(value: string, withMarker: boolean): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 0xffff) {
    const head = Buffer.alloc(5);
    head[0] = LONG_STRING;
    head.writeUInt32BE(bytes.length, 1);
    return Buffer.concat([withMarker ? head : head.subarray(1), bytes]);
  }
  const head = Buffer.alloc(3);
  head[0] = STRING;
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([withMarker ? head : head.subarray(1), bytes]);
}

function encodeValue(value: AmfValue): Buffer {
  if (value === null) return Buffer.from([NULL]);
  if (value === undefined) return Buffer.from([UNDEFINED]);
  if (typeof value === 'number') {
    const out = Buffer.alloc(9);
    out[0] = NUMBER;
    out.writeDoubleBE(value, 1);
    return out;
  }
  if (typeof value === 'boolean') return Buffer.from([BOOLEAN, value ? 1 : 0]);
  if (typeof value === 'string') return encodeString(value, true);
  if (value instanceof Date) {
    const out = Buffer.alloc(11);
    out[0] = DATE;
    out.writeDoubleBE(value.getTime(), 1);
    return out;
  }
  if (Array.isArray(value)) {
    const head = Buffer.alloc(5);
    head[0] = STRICT_ARRAY;
    head.writeUInt32BE(value.length, 1);
    return Buffer.concat([head, ...value.map(encodeValue)]);
  }
  const parts: Buffer[] = [Buffer.from([OBJECT])];
  for (const [key, item] of Object.entries(value)) parts.push(encodeString(key, false), encodeValue(item));
  parts.push(Buffer.from([0, 0, OBJECT_END]));
  return Buffer.concat(parts);
}

/** The values one after the other, as a command message carries them. */
export function encodeAmf0(...values: AmfValue[]): Buffer {
  return Buffer.concat(values.map(encodeValue));
}

export class AmfError extends Error {
  override name = 'AmfError';
}

class Reader {
  offset = 0;
  readonly data: Buffer;

  constructor(data: Buffer) {
    this.data = data;
  }

  need(bytes: number): void {
    if (this.offset + bytes > this.data.length) throw new AmfError('truncated AMF0');
  }

  u8(): number {
    this.need(1);
    return this.data[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.data.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.data.readDoubleBE(this.offset);
    this.offset += 8;
    return v;
  }

  utf8(length: number): string {
    this.need(length);
    const v = this.data.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return v;
  }
}

/** Servers nest objects shallowly; a deeper answer is not one we need to read. */
const MAX_DEPTH = 16;

function readProperties(reader: Reader, depth: number): AmfObject {
  const object: AmfObject = Object.create(null) as AmfObject;
  for (;;) {
    const key = reader.utf8(reader.u16());
    if (key === '' && reader.data[reader.offset] === OBJECT_END) {
      reader.offset += 1;
      return object;
    }
    object[key] = readValue(reader, depth + 1);
  }
}

function readValue(reader: Reader, depth: number): AmfValue {
  if (depth > MAX_DEPTH) throw new AmfError('AMF0 nested too deep');
  const marker = reader.u8();
  switch (marker) {
    case NUMBER:
      return reader.double();
    case BOOLEAN:
      return reader.u8() !== 0;
    case STRING:
      return reader.utf8(reader.u16());
    case LONG_STRING:
      return reader.utf8(reader.u32());
    case OBJECT:
      return readProperties(reader, depth);
    case ECMA_ARRAY:
      reader.u32();
      return readProperties(reader, depth);
    case STRICT_ARRAY: {
      const count = reader.u32();
      const items: AmfValue[] = [];
      for (let i = 0; i < count; i++) items.push(readValue(reader, depth + 1));
      return items;
    }
    case DATE: {
      const time = reader.double();
      reader.u16(); // time zone, unused
      return new Date(time);
    }
    case NULL:
      return null;
    case UNDEFINED:
      return undefined;
    default:
      throw new AmfError(`unsupported AMF0 type ${marker}`);
  }
}

/** Every value in `data`, in order. */
export function decodeAmf0(data: Buffer): AmfValue[] {
  const reader = new Reader(data);
  const values: AmfValue[] = [];
  while (reader.offset < data.length) values.push(readValue(reader, 0));
  return values;
}
