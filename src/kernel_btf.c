#include "kernel_btf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* The BTF format (Documentation/bpf/btf.rst), as far as walking the types
 * needs it. Integers are in the host's byte order. */
#define BTF_MAGIC 0xeB9F

struct btf_header {
    uint16_t magic;
    uint8_t version;
    uint8_t flags;
    uint32_t hdr_len;
    uint32_t type_off;
    uint32_t type_len;
    uint32_t str_off;
    uint32_t str_len;
};

struct btf_type {
    uint32_t name_off;
    uint32_t info; /* vlen: bits 0-15, kind: bits 24-28, kind_flag: bit 31 */
    uint32_t size_or_type;
};

struct btf_member {
    uint32_t name_off;
    uint32_t type;
    uint32_t offset; /* in bits; with kind_flag, bitfield size << 24 | bit offset */
};

enum {
    BTF_KIND_INT = 1,
    BTF_KIND_ARRAY = 3,
    BTF_KIND_STRUCT = 4,
    BTF_KIND_UNION = 5,
    BTF_KIND_ENUM = 6,
    BTF_KIND_FUNC_PROTO = 13,
    BTF_KIND_VAR = 14,
    BTF_KIND_DATASEC = 15,
    BTF_KIND_DECL_TAG = 17,
    BTF_KIND_ENUM64 = 19,
    BTF_KIND_MAX = 19,
};

/* Bytes that follow a type's common part, by kind. */
static long type_extra(unsigned kind, unsigned vlen)
{
    switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
        return 4;
    case BTF_KIND_ARRAY:
        return 12;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
    case BTF_KIND_DATASEC:
    case BTF_KIND_ENUM64:
        return 12l * vlen;
    case BTF_KIND_ENUM:
    case BTF_KIND_FUNC_PROTO:
        return 8l * vlen;
    default:
        return kind <= BTF_KIND_MAX ? 0 : -EINVAL;
    }
}

struct btf_view {
    const char *types, *strings;
    size_t types_len, strings_len;
    const struct btf_type **by_id; /* type id -> type; id 0 is void */
    size_t n_ids;
};

enum {
    BTF_KIND_TYPEDEF = 8,
    BTF_KIND_VOLATILE = 9,
    BTF_KIND_CONST = 10,
    BTF_KIND_RESTRICT = 11,
    BTF_KIND_TYPE_TAG = 18
};

static bool name_is(const struct btf_view *v, uint32_t off, const char *name)
{
    size_t n = strlen(name);
    return off < v->strings_len && v->strings_len - off > n &&
           memcmp(v->strings + off, name, n + 1) == 0;
}

/* The struct or union behind `id` through typedefs and qualifiers, or NULL. */
static const struct btf_type *aggregate_of(const struct btf_view *v, uint32_t id)
{
    for (int hops = 0; hops < 16 && id > 0 && id < v->n_ids; hops++) {
        const struct btf_type *t = v->by_id[id];
        unsigned kind = (t->info >> 24) & 0x1f;
        if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION)
            return t;
        if (kind != BTF_KIND_TYPEDEF && kind != BTF_KIND_VOLATILE && kind != BTF_KIND_CONST &&
            kind != BTF_KIND_RESTRICT && kind != BTF_KIND_TYPE_TAG)
            return NULL;
        id = t->size_or_type;
    }
    return NULL;
}

/* Members of anonymous structs and unions count as the outer struct's
 * (mm_struct keeps nearly every field in one, for layout randomisation). */
static long member_find(const struct btf_view *v, const struct btf_type *t, const char *member,
                        int depth)
{
    const struct btf_member *m = (const struct btf_member *)(t + 1);
    bool kflag = (t->info >> 31) & 1;
    for (unsigned i = 0; i < (t->info & 0xffff); i++) {
        uint32_t bits = kflag ? m[i].offset & 0xffffff : m[i].offset;
        const struct btf_type *inner = NULL;
        if (m[i].name_off == 0 && depth < 8 && (inner = aggregate_of(v, m[i].type))) {
            long found = member_find(v, inner, member, depth + 1);
            if (found == -ENOENT)
                continue;
            return found < 0 || bits % 8 ? (found < 0 ? found : -ENOTSUP) : found + bits / 8;
        }
        if (!name_is(v, m[i].name_off, member))
            continue;
        if ((kflag && (m[i].offset >> 24)) || bits % 8)
            return -ENOTSUP;
        return (long)(bits / 8);
    }
    return -ENOENT;
}

/* Walks the type section once, recording where each type id starts. */
static long types_index(struct btf_view *v)
{
    size_t cap = 0;
    v->n_ids = 1;
    for (size_t off = 0; off + sizeof(struct btf_type) <= v->types_len;) {
        const struct btf_type *t = (const struct btf_type *)(v->types + off);
        unsigned kind = (t->info >> 24) & 0x1f;
        long extra = type_extra(kind, t->info & 0xffff);
        if (extra < 0 || (size_t)extra > v->types_len - off - sizeof(*t))
            return -EINVAL;
        if (v->n_ids >= cap) {
            cap = cap ? cap * 2 : 4096;
            const struct btf_type **grown = realloc(v->by_id, cap * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            v->by_id = grown;
            v->by_id[0] = NULL; /* void */
        }
        v->by_id[v->n_ids++] = t;
        off += sizeof(*t) + (size_t)extra;
    }
    return 0;
}

/* Checks the header and indexes the types of blob `data`. */
static long view_open(struct btf_view *v, const void *data, size_t len)
{
    struct btf_header h;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, data, sizeof(h));
    if (h.magic != BTF_MAGIC || h.hdr_len < sizeof(h) || h.hdr_len > len ||
        (uint64_t)h.type_off + h.type_len > len - h.hdr_len ||
        (uint64_t)h.str_off + h.str_len > len - h.hdr_len || h.type_off % 4)
        return -EINVAL;
    const char *base = (const char *)data + h.hdr_len;
    *v = (struct btf_view){base + h.type_off, base + h.str_off, h.type_len, h.str_len, NULL, 0};
    return types_index(v);
}

static long view_member_offset(const struct btf_view *v, const char *struct_name,
                               const char *member)
{
    long found = -ENOENT;
    for (size_t id = 1; found == -ENOENT && id < v->n_ids; id++) {
        const struct btf_type *t = v->by_id[id];
        if (((t->info >> 24) & 0x1f) == BTF_KIND_STRUCT && name_is(v, t->name_off, struct_name))
            found = member ? member_find(v, t, member, 0) : (long)t->size_or_type;
    }
    return found;
}

/* Every query answered from one index of the blob. */
static void member_offsets(const void *data, size_t len, struct kernel_btf_query *queries, size_t n)
{
    struct btf_view v = {0};
    long ret = view_open(&v, data, len);
    for (size_t i = 0; i < n; i++)
        queries[i].offset =
            ret < 0 ? ret : view_member_offset(&v, queries[i].struct_name, queries[i].member);
    free(v.by_id);
}

long kernel_btf_member_offset(const void *data, size_t len, const char *struct_name,
                              const char *member)
{
    struct kernel_btf_query q = {struct_name, member, 0};
    member_offsets(data, len, &q, 1);
    return q.offset;
}

int kernel_btf_file_member_offsets(const char *path, struct kernel_btf_query *queries, size_t n)
{
    struct strbuf sb = STRBUF_INIT;
    int ret = strbuf_read_file(&sb, path);
    if (ret < 0)
        for (size_t i = 0; i < n; i++)
            queries[i].offset = ret;
    else
        member_offsets(sb.data, sb.len, queries, n);
    strbuf_release(&sb);
    return ret;
}
