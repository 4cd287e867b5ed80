// Reads the metadata properties (ModelProto field 14: key/value strings) of an ONNX file without a protobuf library:
// the top-level fields are walked by their wire types, and the graph (field 7) is skipped by its length.

function varint(bytes, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

function fields(bytes, start, end, visit) {
  let at = start;
  while (at < end) {
    let key;
    [key, at] = varint(bytes, at);
    const field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) [, at] = varint(bytes, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let length;
      [length, at] = varint(bytes, at);
      visit(field, at, at + length);
      at += length;
    } else throw new Error(`ONNX file: unexpected protobuf wire type ${wire}`);
  }
}

/** The ONNX model's metadata properties as a plain object (rkde_threshold, rkde_input_size, …). */
export function onnxMetadata(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const text = new TextDecoder();
  const result = {};
  fields(bytes, 0, bytes.length, (field, start, end) => {
    if (field !== 14) return;
    let key = '', value = '';
    fields(bytes, start, end, (f, s, e) => {
      if (f === 1) key = text.decode(bytes.subarray(s, e));
      else if (f === 2) value = text.decode(bytes.subarray(s, e));
    });
    result[key] = value;
  });
  return result;
}
