/* kernel_btf: member offsets from a BTF blob built here byte by byte, and
 * from the running kernel's when it has one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel_btf.h"
#include "kernel_layout.h"

/* int (id 1), then struct task { int a; <int b at byte 12>; } (id 2), a
 * struct with a bitfield member (id 3), and struct outer { <an anonymous
 * struct task at byte 32> } (id 4), as mm_struct keeps its fields. */
static const char strings[] = "\0int\0task\0a\0b\0bits\0f\0outer";
enum { S_INT = 1, S_TASK = 5, S_A = 10, S_B = 12, S_BITS = 14, S_F = 19, S_OUTER = 21 };

struct blob {
    uint16_t magic;
    uint8_t version, flags;
    uint32_t hdr_len, type_off, type_len, str_off, str_len;
    uint32_t types[4 + 3 + 3 * 2 + 3 + 3 + 3 + 3];
    char str[sizeof(strings)];
};

static void blob_make(struct blob *b)
{
    uint32_t t[] = {
        S_INT,   1u << 24,
        4,       32, /* INT, 32 bits */
        S_TASK,  4u << 24 | 2,
        16,      S_A,
        1,       0,
        S_B,     1,
        96, /* STRUCT, 2 members */
        S_BITS,  4u << 24 | 1u << 31 | 1,
        4,       S_F,
        1,       3u << 24 | 5, /* kflag bitfield */
        S_OUTER, 4u << 24 | 1,
        48,      0, /* anonymous */
        2,       256,
    };
    memset(b, 0, sizeof(*b));
    b->magic = 0xeB9F;
    b->version = 1;
    b->hdr_len = 24;
    b->type_off = 0;
    b->type_len = sizeof(t);
    b->str_off = sizeof(b->types);
    b->str_len = sizeof(strings);
    memcpy(b->types, t, sizeof(t));
    memcpy(b->str, strings, sizeof(strings));
}

static void test_offsets_from_a_blob(void **state)
{
    struct blob b;
    blob_make(&b);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "a"), 0);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "b"), 12);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "c"), -ENOENT);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "nothere", "a"), -ENOENT);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "bits", "f"), -ENOTSUP);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "outer", "b"), 32 + 12);
    /* No member: the struct's size. */
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", NULL), 16);
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "nothere", NULL), -ENOENT);
}

static void test_malformed_blobs(void **state)
{
    struct blob b;
    blob_make(&b);
    b.magic = 0x1234;
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "b"), -EINVAL);
    blob_make(&b);
    b.type_len = 4096; /* past the end */
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "b"), -EINVAL);
    blob_make(&b);
    b.types[4 + 1] = 4u << 24 | 60000; /* a member list past the types */
    assert_int_equal(kernel_btf_member_offset(&b, sizeof(b), "task", "b"), -EINVAL);
    assert_int_equal(kernel_btf_member_offset(&b, 10, "task", "b"), -EINVAL);
}

/* The running kernel's, read once for several queries, and the file that
 * is not there says so for each. */
static void test_running_kernel(void **state)
{
    struct kernel_btf_query q[] = {{"task_struct", "pid", 0},
                                   {"task_struct", "tgid", 0},
                                   {"mm_struct", "arg_start", 0},
                                   {"mm_struct", "arg_end", 0}};
    assert_int_equal(kernel_btf_file_member_offsets("/nonexistent", q, 4), -ENOENT);
    assert_int_equal(q[3].offset, -ENOENT);
    if (access(KERNEL_BTF_PATH, R_OK) != 0)
        skip();
    assert_int_equal(kernel_btf_file_member_offsets(KERNEL_BTF_PATH, q, 4), 0);
    assert_true(q[0].offset > 0);
    assert_int_equal(q[1].offset, q[0].offset + 4); /* pid_t pid; pid_t tgid; in every kernel */
    /* unsigned long arg_start, arg_end: inside mm_struct's anonymous struct. */
    assert_true(q[2].offset > 0);
    assert_int_equal(q[3].offset, q[2].offset + 8);
}

/* The daemon's table of fields, resolved in one read of the running
 * kernel's BTF. */
static void test_kernel_layout(void **state)
{
    assert_string_equal(kernel_layout_name(KF_SK_PROTOCOL), "sock.sk_protocol");
    assert_string_equal(kernel_layout_name(KF_UPID_SIZE), "upid");
    if (access(KERNEL_BTF_PATH, R_OK) != 0)
        skip();
    long v6_daddr = kernel_layout_offset(KF_SKC_V6_DADDR);
    assert_true(v6_daddr > 16); /* after the head pt_sock_read reads at fixed offsets */
    assert_int_equal(kernel_layout_offset(KF_SKC_V6_RCV_SADDR), v6_daddr + 16);
    /* sk_protocol is a u16 of struct sock (since 5.6), after its sock_common. */
    assert_true(kernel_layout_offset(KF_SK_PROTOCOL) > v6_daddr + 32);
    static const enum kernel_field sock[] = {KF_SK_PROTOCOL, KF_SKC_V6_DADDR, KF_SOCKET_SK};
    assert_true(kernel_layout_all(sock, 3));
    for (int f = 0; f < KF_COUNT; f++)
        assert_true(kernel_layout_offset((enum kernel_field)f) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_from_a_blob),
        cmocka_unit_test(test_malformed_blobs),
        cmocka_unit_test(test_running_kernel),
        cmocka_unit_test(test_kernel_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
