/* Container identity from /proc/PID/cgroup, over files as real hosts write
 * them: Docker and podman with either cgroup driver, Kubernetes with
 * containerd, CRI-O and Docker, LXC, systemd-nspawn, hybrid and pure v1
 * hierarchies, and processes that are not in a container. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "container.h"
#include "container_filter.h"

#define ID1 "e14279f53b7be40d48be7c9e763e597434fe573aa7b26d4ffb414dd2f825857e"
#define ID2 "3f1bd3a2c7c0d8b6c1f9b33ee2b8e4a1b0c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1"

static void expect_container(const char *text, const char *runtime, const char *id)
{
    struct container_ident ci;
    int ret = container_from_cgroup(text, &ci);
    if (!runtime) {
        assert_int_equal(ret, 0);
        assert_int_equal(ci.runtime, CONTAINER_RUNTIME_NONE);
        assert_string_equal(ci.id, "");
        return;
    }
    assert_int_equal(ret, 1);
    assert_string_equal(container_runtime_name(ci.runtime), runtime);
    assert_string_equal(ci.id, id);
}

/* This project's machines: hybrid, podman with runc and cgroupfs. */
static void test_podman_cgroupfs_hybrid(void **state)
{
    expect_container("9:name=systemd:/libpod_parent/libpod-" ID1 "\n"
                     "8:pids:/libpod_parent/libpod-" ID1 "\n"
                     "4:memory:/libpod_parent/libpod-" ID1 "\n"
                     "1:cpu:/libpod_parent/libpod-" ID1 "\n"
                     "0::/libpod_parent/libpod-" ID1 "\n",
                     "podman", ID1);
    /* conmon, podman's monitor, sits beside the container: not in it. */
    expect_container("9:name=systemd:/\n8:pids:/libpod_parent/conmon\n0::/libpod_parent/conmon\n",
                     NULL, NULL);
}

static void test_podman_systemd(void **state)
{
    expect_container("0::/machine.slice/libpod-" ID1 ".scope\n", "podman", ID1);
    /* podman --systemd=always, and rootless podman under a user's slice. */
    expect_container("0::/machine.slice/libpod-" ID1 ".scope/container\n", "podman", ID1);
    expect_container("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1
                     ".scope\n",
                     "podman", ID1);
    /* A pod's container: the pod's slice is not the container. */
    expect_container("0::/machine.slice/machine-libpod_pod_" ID2 ".slice/libpod-" ID1 ".scope\n",
                     "podman", ID1);
    expect_container("0::/machine.slice/libpod-conmon-" ID1 ".scope\n", NULL, NULL);
}

static void test_docker(void **state)
{
    /* cgroupfs driver, v1 only (no v2 line names anything). */
    expect_container("12:pids:/docker/" ID1 "\n11:memory:/docker/" ID1
                     "\n1:name=systemd:/docker/" ID1 "\n0::/\n",
                     "docker", ID1);
    expect_container("0::/system.slice/docker-" ID1 ".scope\n", "docker", ID1);
    /* Docker in Docker: the outer container is the one the host knows. */
    expect_container("0::/docker/" ID1 "/docker/" ID2 "\n", "docker", ID1);
    /* ECS tasks run on Docker. */
    expect_container("0::/ecs/0a1b2c3d4e5f/" ID1 "\n", "docker", ID1);
    /* dockerd itself is a host process. */
    expect_container("0::/system.slice/docker.service\n", NULL, NULL);
}

static void test_kubernetes(void **state)
{
    expect_container("0::/kubepods.slice/kubepods-burstable.slice/"
                     "kubepods-burstable-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/"
                     "cri-containerd-" ID1 ".scope\n",
                     "containerd", ID1);
    expect_container("0::/kubepods.slice/kubepods-besteffort.slice/"
                     "kubepods-besteffort-pod1f2e3d4c_5b6a.slice/crio-" ID1 ".scope\n",
                     "cri-o", ID1);
    expect_container("0::/kubepods.slice/kubepods-pod1f2e3d4c.slice/crio-conmon-" ID1 ".scope\n",
                     NULL, NULL);
    /* dockershim. */
    expect_container("0::/kubepods.slice/kubepods-pod1f2e.slice/docker-" ID1 ".scope\n", "docker",
                     ID1);
    /* cgroupfs driver: the path does not name the runtime. */
    expect_container("11:memory:/kubepods/burstable/pod1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718/" ID1
                     "\n",
                     "kubernetes", ID1);
    /* The kubelet's own slice holds no container. */
    expect_container("0::/kubepods.slice/kubepods-burstable.slice\n", NULL, NULL);
}

static void test_other_runtimes(void **state)
{
    expect_container("0::/system.slice/nerdctl-" ID1 ".scope\n", "containerd", ID1);
    expect_container("0::/lxc.payload.web01\n", "lxc", "web01");
    expect_container("3:memory:/lxc/web01\n0::/\n", "lxc", "web01");
    expect_container("0::/lxc.monitor.web01\n", NULL, NULL);
    expect_container("0::/machine.slice/systemd-nspawn@build.service/payload\n", "systemd-nspawn",
                     "build");
    /* A 64-hex cgroup no rule names: a container of an unknown engine. */
    expect_container("0::/default/" ID1 "\n", "unknown", ID1);
}

static void test_host_processes(void **state)
{
    expect_container("0::/\n", NULL, NULL);
    expect_container("0::/init.scope\n", NULL, NULL);
    expect_container("0::/user.slice/user-1000.slice/session-3.scope\n", NULL, NULL);
    /* This machine's own shell: a 32-hex v1 cgroup is not a container id. */
    expect_container("9:name=systemd:/\n4:memory:/process_api/c1c91c37ddee4be523ad0fef73ab119d\n"
                     "0::/\n",
                     NULL, NULL);
    /* Near misses: upper case, 63 and 65 digits, a suffix after the id. */
    char upper[] = "0::/docker/" ID1 "\n";
    upper[12] = 'E';
    expect_container(upper, NULL, NULL);
    expect_container("0::/docker/" ID1 "0\n", NULL, NULL);
    char short_id[] = "0::/docker/" ID1 "\n";
    memmove(short_id + 11, short_id + 12, strlen(short_id + 12) + 1);
    expect_container(short_id, NULL, NULL);
    expect_container("0::/system.slice/docker-" ID1 ".scopex\n", NULL, NULL);
}

static void test_malformed(void **state)
{
    expect_container("", NULL, NULL);
    expect_container("garbage without colons\n", NULL, NULL);
    expect_container("0:/docker/" ID1 "\n", NULL, NULL);
    /* The last line without its newline still counts. */
    expect_container("1:cpu:/\n0::/docker/" ID1, "docker", ID1);
    /* However deep the container's cgroup is. */
    char deep[4096] = "0::";
    for (int i = 0; i < 500; i++)
        strcat(deep, "/a");
    strcat(deep, "/docker/" ID1 "/sub");
    expect_container(deep, "docker", ID1);
}

static void test_v2_path(void **state)
{
    char buf[256];
    assert_int_equal(
        container_cgroup_v2_path("1:cpu:/x\n0::/libpod_parent/libpod-" ID1 "\n", buf, sizeof(buf)),
        0);
    assert_string_equal(buf, "/libpod_parent/libpod-" ID1);
    assert_int_equal(container_cgroup_v2_path("0::/\n", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/");
    assert_int_equal(container_cgroup_v2_path("4:memory:/a\n", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(container_cgroup_v2_path("0::/abcdef\n", buf, 4), -ENAMETOOLONG);
}

static void test_cgroup_prefix(void **state)
{
    const char *p = "/machine.slice/libpod-" ID1 ".scope/container";
    assert_int_equal(container_cgroup_prefix(p, strlen(p)), strlen(p) - strlen("/container"));
    p = "/docker/" ID1 "/docker/" ID2;
    assert_int_equal(container_cgroup_prefix(p, strlen(p)), strlen("/docker/" ID1));
    p = "/user.slice/session-2.scope";
    assert_int_equal(container_cgroup_prefix(p, strlen(p)), strlen(p));
}

static void test_mounts(void **state)
{
    char buf[64];
    /* This project's hybrid hosts, and a pure v2 one. */
    assert_int_equal(container_mounts_cgroup2("proc /proc proc rw 0 0\n"
                                              "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n"
                                              "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n",
                                              buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "/sys/fs/cgroup/unified");
    assert_int_equal(container_mounts_cgroup2("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0",
                                              buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "/sys/fs/cgroup");
    assert_int_equal(
        container_mounts_cgroup2("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n", buf, sizeof(buf)),
        -ENOENT);
    assert_int_equal(container_mounts_cgroup2("cgroup2 /a/very/long/mount/point/past/the/size "
                                              "cgroup2 rw 0 0\n",
                                              buf, 8),
                     -ENAMETOOLONG);
}

/* container_labels' entries: pairs ANDed, entries ORed, values globbed. */
static void test_labels_match(void **state)
{
    char *k1[] = {"app", "tier"}, *g1[] = {"web*", "front"};
    char *k2[] = {"team"}, *g2[] = {"blue"};
    struct label_match entries[] = {{k1, g1, 2}, {k2, g2, 1}};
    json_t *l = json_pack("{s:s,s:s}", "app", "webshop", "tier", "front");
    assert_true(container_labels_match(entries, 2, l));
    json_object_set_new(l, "tier", json_string("back"));
    assert_false(container_labels_match(entries, 2, l));
    json_object_set_new(l, "team", json_string("blue"));
    assert_true(container_labels_match(entries, 2, l));
    json_decref(l);
    /* A label that is absent does not match, not even '*'. */
    char *k3[] = {"app"}, *g3[] = {"*"};
    struct label_match star = {k3, g3, 1};
    l = json_object();
    assert_false(container_labels_match(&star, 1, l));
    json_object_set_new(l, "app", json_string(""));
    assert_true(container_labels_match(&star, 1, l));
    json_decref(l);
    assert_false(container_labels_match(entries, 0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_podman_cgroupfs_hybrid),
        cmocka_unit_test(test_podman_systemd),
        cmocka_unit_test(test_docker),
        cmocka_unit_test(test_kubernetes),
        cmocka_unit_test(test_other_runtimes),
        cmocka_unit_test(test_host_processes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_v2_path),
        cmocka_unit_test(test_cgroup_prefix),
        cmocka_unit_test(test_mounts),
        cmocka_unit_test(test_labels_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
