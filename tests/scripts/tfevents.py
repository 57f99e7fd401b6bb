#!/usr/bin/python3
"""Checks TensorBoard events files independently of esrun's C++ code: the TFRecord framing (uint64
length, masked CRC-32C of it, data, masked CRC-32C of the data, little-endian) and the Event fields
esrun writes, decoded from the protobuf wire format by hand with TensorBoard's field numbers.

Usage: tests/scripts/tfevents.py FILE...   prints one line per record; exits 1 naming the file and the byte
offset of the first bad record. Needs only the standard library and Debian's python3-crc32c."""
import struct
import sys

import crc32c

MASK_DELTA = 0xA282EAD8
HEADER = 12  # length, its masked CRC
FOOTER = 4   # masked CRC of the data

# Field numbers of tensorflow/tensorboard's event.proto and summary.proto.
EVENT_WALL_TIME, EVENT_STEP, EVENT_FILE_VERSION, EVENT_SUMMARY, EVENT_SESSION_LOG = 1, 2, 3, 5, 7
SUMMARY_VALUE = 1
VALUE_TAG, VALUE_SIMPLE_VALUE = 1, 2
SESSION_LOG_STATUS = 1


class BadFile(Exception):
    pass


def masked_crc32c(data):
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + MASK_DELTA) & 0xFFFFFFFF


def records(path):
    """(offset, data) of every record of the file at `path`, both CRCs checked."""
    with open(path, "rb") as f:
        content = f.read()
    offset = 0
    while offset < len(content):
        where = f"{path}: the record at byte {offset}"
        if len(content) - offset < HEADER:
            raise BadFile(f"{where} is truncated: {len(content) - offset} bytes left, its header takes {HEADER}")
        length_bytes = content[offset:offset + 8]
        (length,) = struct.unpack("<Q", length_bytes)
        (length_crc,) = struct.unpack_from("<I", content, offset + 8)
        if length_crc != masked_crc32c(length_bytes):
            raise BadFile(f"{where} has a bad length CRC")
        end = offset + HEADER + length + FOOTER
        if end > len(content):
            raise BadFile(f"{where} is truncated: it needs {end - offset} bytes, {len(content) - offset} are left")
        data = content[offset + HEADER:offset + HEADER + length]
        (data_crc,) = struct.unpack_from("<I", content, offset + HEADER + length)
        if data_crc != masked_crc32c(data):
            raise BadFile(f"{where} has a bad data CRC")
        yield offset, data
        offset = end


def varint(data, i):
    value, shift = 0, 0
    while True:
        if i >= len(data):
            raise ValueError("varint runs past the end")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return value, i
        shift += 7


def fields(data):
    """(field number, wire type, value) of a protobuf message; value is an int or bytes."""
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            size, i = varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire} of field {number} is not one esrun writes")
        if i > len(data):
            raise ValueError(f"field {number} runs past the end")
        yield number, wire, value


def decode_event(data):
    """The fields esrun writes, as a dict: wall_time, step, file_version, scalars, session_status."""
    event = {"wall_time": 0.0, "step": 0, "file_version": "", "scalars": [], "session_status": 0}
    for number, wire, value in fields(data):
        if (number, wire) == (EVENT_WALL_TIME, 1):
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif (number, wire) == (EVENT_STEP, 0):
            event["step"] = value - (1 << 64) if value >= 1 << 63 else value
        elif (number, wire) == (EVENT_FILE_VERSION, 2):
            event["file_version"] = value.decode()
        elif (number, wire) == (EVENT_SUMMARY, 2):
            event["scalars"] += [decode_value(v) for n, w, v in fields(value) if (n, w) == (SUMMARY_VALUE, 2)]
        elif (number, wire) == (EVENT_SESSION_LOG, 2):
            event["session_status"] = decode_session_status(value)
    return event


def decode_session_status(data):
    status = 0
    for number, wire, value in fields(data):
        if (number, wire) == (SESSION_LOG_STATUS, 0):
            status = value
    return status


def decode_value(data):
    tag, simple_value = "", None
    for number, wire, value in fields(data):
        if (number, wire) == (VALUE_TAG, 2):
            tag = value.decode()
        elif (number, wire) == (VALUE_SIMPLE_VALUE, 5):
            simple_value = struct.unpack("<f", value)[0]
    return tag, simple_value


def events(path):
    """Every record of the file decoded; the first must carry the file version."""
    out = []
    for offset, data in records(path):
        try:
            out.append(decode_event(data))
        except (ValueError, UnicodeDecodeError) as error:
            raise BadFile(f"{path}: the record at byte {offset} is not an Event: {error}") from None
    if not out or not out[0]["file_version"].startswith("brain.Event:"):
        raise BadFile(f"{path}: the first record carries no file version 'brain.Event:...'")
    return out


def main(paths):
    try:
        for path in paths:
            for event in events(path):
                print(path, event)
    except BadFile as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
