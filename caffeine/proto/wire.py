"""The few pieces of protobuf's wire format that caffeine writes by hand: packed
weight arrays (far faster than repeated-field ``extend``) and TensorBoard events."""


def varint(value):
    """Base-128 varint; negative ints as 64-bit two's complement, as protobuf does."""
    value = int(value) & ((1 << 64) - 1)
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def key(field, wire_type):
    return varint((field << 3) | wire_type)


def length_delimited(field, payload):
    """A length-delimited field (bytes, string, sub-message or packed repeated)."""
    return key(field, 2) + varint(len(payload)) + payload
