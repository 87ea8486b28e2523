/* process.bpf.c: the process lifecycle, for complete trees.
 *
 * Every fork, exec and exit goes through the same ring buffer as the network
 * events, so the daemon's process cache is exactly as the kernel was when a
 * network event fired, even for processes gone by the time it is read.
 * Threads are skipped: a tree is made of processes.
 */
#include <uapi/linux/sched.h>

BPF_PERCPU_ARRAY(pt_exec_scratch, struct pt_exec_event, 1);

/* The current task's loginuid, read at the offset the daemon found in the
 * running kernel's BTF: the installed headers may lay task_struct out
 * differently from the kernel that runs. */
static __always_inline __u32 pt_current_loginuid(void)
{
#ifdef PT_TASK_LOGINUID_OFFSET
    __u32 v = PT_LOGINUID_UNKNOWN;
    char *task = (char *)bpf_get_current_task();
    if (bpf_probe_read_kernel(&v, sizeof(v), task + PT_TASK_LOGINUID_OFFSET))
        return PT_LOGINUID_UNKNOWN;
    return v;
#else
    return PT_LOGINUID_UNKNOWN;
#endif
}

/* The current task's pid in its innermost PID namespace
 * (task->thread_pid->numbers[level].nr), at the offsets the daemon found in
 * BTF; 0 in the initial namespace. Read at exec, where a container's first
 * process becomes the container's: it may exit before userland could read
 * /proc/PID/status. */
static __always_inline __u32 pt_current_ns_pid(void)
{
#ifdef PT_TASK_THREAD_PID_OFFSET
    char *task = (char *)bpf_get_current_task();
    char *pid = NULL;
    __u32 level = 0;
    __s32 nr = 0;
    if (bpf_probe_read_kernel(&pid, sizeof(pid), task + PT_TASK_THREAD_PID_OFFSET) || !pid ||
        bpf_probe_read_kernel(&level, sizeof(level), pid + PT_PID_LEVEL_OFFSET))
        return PT_NS_PID_UNKNOWN;
    if (level == 0)
        return 0;
    /* The kernel nests at most 32 levels (MAX_PID_NS_LEVEL). */
    if (level > 32 || bpf_probe_read_kernel(&nr, sizeof(nr), pid + PT_PID_NUMBERS_OFFSET +
                                                                  level * PT_UPID_SIZE) ||
        nr <= 0)
        return PT_NS_PID_UNKNOWN;
    return nr;
#else
    return PT_NS_PID_UNKNOWN;
#endif
}

/* task_newtask runs in the parent, before the child can run, so the fork is
 * reserved in the ring buffer ahead of anything the child does. */
int pt_process__task_newtask(void *ctx)
{
    struct tracepoint__task__task_newtask *args = ctx;
    if (args->clone_flags & CLONE_THREAD)
        return 0;
    struct pt_fork_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROCESS_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_FORK, PT_PROCESS_PROBE_ID);
    e->child_pid = args->pid;
    e->loginuid = pt_current_loginuid();
    pt_events.ringbuf_submit(e, pt_lifecycle_flags());
    return 0;
}

/* Where the new program's arguments are: from the running kernel's BTF
 * when the daemon found them there, else from the kernel headers (which
 * then have to match the kernel, as on a host with its own headers). */
#ifndef PT_TASK_MM_OFFSET
#include <linux/sched.h>
#include <linux/mm_types.h>
#define PT_TASK_MM_OFFSET offsetof(struct task_struct, mm)
#define PT_MM_ARG_START_OFFSET offsetof(struct mm_struct, arg_start)
#define PT_MM_ARG_END_OFFSET offsetof(struct mm_struct, arg_end)
#endif

/* Copies the command line the kernel just laid out on the new program's
 * stack (arg_start..arg_end: the arguments, NUL-separated). */
static __always_inline void pt_exec_args(struct pt_exec_event *e)
{
    char *task = (char *)bpf_get_current_task();
    unsigned long mm = 0, start = 0, end = 0;
    e->args_len = 0;
    e->truncated = 0;
    if (bpf_probe_read_kernel(&mm, sizeof(mm), task + PT_TASK_MM_OFFSET) || !mm ||
        bpf_probe_read_kernel(&start, sizeof(start), (char *)mm + PT_MM_ARG_START_OFFSET) ||
        bpf_probe_read_kernel(&end, sizeof(end), (char *)mm + PT_MM_ARG_END_OFFSET) ||
        end <= start) {
        e->truncated = 1;
        return;
    }
    unsigned long len = end - start;
    if (len > PT_ARGS_SIZE) {
        len = PT_ARGS_SIZE;
        e->truncated = 1;
    }
    if (pt_read_user(e->args, len, (const void *)start)) {
        e->truncated = 1;
        return;
    }
    e->args_len = len;
}

/* sched_process_exec fires once the exec can no longer fail, in the new
 * program before it runs: failed execs cost nothing here, and no syscall
 * tracepoint (which would slow every syscall on the host) is needed. */
int pt_process__sched_process_exec(void *ctx)
{
    struct tracepoint__sched__sched_process_exec *args = ctx;
    __u32 zero = 0;
    struct pt_exec_event *e = pt_exec_scratch.lookup(&zero);
    if (!e)
        return 0;
    pt_header_fill(&e->h, PT_EV_EXEC, PT_PROCESS_PROBE_ID);
    e->loginuid = pt_current_loginuid();
    e->ns_pid = pt_current_ns_pid();
    e->pad = 0;
    long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
                                       (char *)args + (args->data_loc_filename & 0xffff));
    e->filename_len = n > 0 ? n - 1 : 0;
    pt_exec_args(e);
    __u32 size = offsetof(struct pt_exec_event, args) + (e->args_len & (PT_ARGS_SIZE - 1));
    if (e->args_len >= PT_ARGS_SIZE)
        size = sizeof(*e);
    if (pt_events.ringbuf_output(e, size, pt_lifecycle_flags()))
        pt_count_lost(PT_PROCESS_PROBE_ID);
    return 0;
}

/* sched_process_exit fires for every thread; only the group leader's exit
 * ends the process as userland knows it. */
int pt_process__sched_process_exit(void *ctx)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((__u32)pid_tgid != (__u32)(pid_tgid >> 32))
        return 0;
    struct pt_exit_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROCESS_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_EXIT, PT_PROCESS_PROBE_ID);
    pt_events.ringbuf_submit(e, pt_lifecycle_flags());
    return 0;
}
