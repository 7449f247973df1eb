/* evbridge — a look at protobuf wire bytes that protobuf-c's unpacked messages hide.
 *
 * protobuf-c hands string fields over as NUL-terminated C strings: a string whose bytes
 * contain U+0000 ("a\0b" is valid UTF-8, so clients may send it) arrives cut at the first
 * NUL, and nothing in the unpacked message says so. These helpers walk the encoded bytes
 * instead: a field iterator, and a search for string fields holding a NUL byte, guided by
 * the message's protobuf-c descriptor (nested messages and map entries included).
 * Pure functions on borrowed bytes; thread-safe.
 */
#ifndef EVB_SERVER_RPC_PB_WIRE_H
#define EVB_SERVER_RPC_PB_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* One field of an encoded message. For wire type 2 (length-delimited) data/len are its
 * payload; for the others data/len cover the value's bytes. */
typedef struct evb_pb_field {
    uint32_t number;
    int wire_type; /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    const uint8_t *data;
    size_t len;
} evb_pb_field;

/* Reads the next field at *p (n bytes left) and advances past it. Returns 1 with *f set,
 * 0 at the end of the bytes, -1 for bytes that are not a well-formed message at this level
 * (truncated, an over-long varint, field number 0, groups or unknown wire types). */
int evb_pb_next(const uint8_t **p, size_t *n, evb_pb_field *f);

/* Searches the message encoded in buf (len bytes), described by d, for a string field
 * whose bytes contain a NUL, descending into message fields (and so map entries) up to a
 * depth of 32. Returns 1 and writes the field's dotted path of field names into path
 * (cap bytes, truncated, always terminated; e.g. "extensions.value") for the first one
 * found, else 0 — also for malformed bytes, which the unpacker reports on its own. */
int evb_pb_nul_path(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, char *path,
                    size_t cap);

#endif
