/* evbridge — protobuf wire-format walking for what protobuf-c's unpacked messages hide
 * (pb_wire.h). Wire format: https://protobuf.dev/programming-guides/encoding/ — each field
 * is a varint key (number << 3 | wire type) followed by a varint, 8 or 4 fixed bytes, or a
 * varint length and that many bytes. Nothing here allocates.
 */
#include "server/rpc/pb_wire.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

static int varint(const uint8_t **p, size_t *n, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*n == 0)
            return 0;
        uint8_t b = **p;
        (*p)++;
        (*n)--;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 1;
        }
    }
    return 0; /* more than 10 bytes */
}

int evb_pb_next(const uint8_t **p, size_t *n, evb_pb_field *f)
{
    if (*n == 0)
        return 0;
    uint64_t key, len;
    if (!varint(p, n, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (int)(key & 7);
    f->data = *p;
    switch (f->wire_type) {
    case 0:
        if (!varint(p, n, &len))
            return -1;
        f->len = (size_t)(*p - f->data);
        return 1;
    case 1:
        len = 8;
        break;
    case 5:
        len = 4;
        break;
    case 2:
        if (!varint(p, n, &len))
            return -1;
        f->data = *p;
        break;
    default:
        return -1; /* groups (3, 4) and unknown types */
    }
    if (len > *n)
        return -1;
    f->len = (size_t)len;
    *p += len;
    *n -= (size_t)len;
    return 1;
}

static int nul_path(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, char *path,
                    size_t cap, int depth)
{
    const uint8_t *p = buf;
    size_t n = len;
    evb_pb_field f;
    while (evb_pb_next(&p, &n, &f) == 1) {
        if (f.wire_type != 2)
            continue;
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(d, f.number);
        if (fd == NULL)
            continue; /* unknown field: kept opaque by protobuf-c, never read as text */
        if (fd->type == PROTOBUF_C_TYPE_STRING && memchr(f.data, 0, f.len) != NULL) {
            snprintf(path, cap, "%s", fd->name);
            return 1;
        }
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE && depth < MAX_DEPTH) {
            char inner[128];
            if (nul_path(fd->descriptor, f.data, f.len, inner, sizeof inner, depth + 1)) {
                snprintf(path, cap, "%s.%s", fd->name, inner);
                return 1;
            }
        }
    }
    return 0;
}

int evb_pb_nul_path(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, char *path,
                    size_t cap)
{
    if (cap > 0)
        path[0] = '\0';
    if (d == NULL || (buf == NULL && len > 0) || path == NULL || cap == 0)
        return 0;
    return nul_path(d, buf, len, path, cap, 0);
}
