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
    pt_events.ringbuf_submit(e, 0);
    return 0;
}

static __always_inline int pt_exec_enter(const char *const *argv)
{
    __u32 zero = 0;
    struct pt_exec_event *e = pt_exec_scratch.lookup(&zero);
    if (!e)
        return 0;
    pt_header_fill(&e->h, PT_EV_EXEC, PT_PROCESS_PROBE_ID);
    __u32 off = 0;
    e->truncated = 0;
#pragma clang loop unroll(disable)
    for (int i = 0; i < PT_ARGC_MAX; i++) {
        const char *arg = NULL;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            break;
        if (off > PT_ARGS_SIZE - PT_ARG_MAX) {
            e->truncated = 1;
            break;
        }
        /* The bound above is hidden from clang so that the mask stays in the
         * code: verifiers before 6.x (Debian's 6.1) lose that bound across
         * iterations and need the mask, with the buffer's slack, to prove
         * the write in range. */
        __u32 at = off;
        asm volatile("" : "+r"(at));
        long n = bpf_probe_read_user_str(&e->args[at & (PT_ARGS_SIZE - 1)], PT_ARG_MAX, arg);
        if (n < 0)
            break;
        if (n == PT_ARG_MAX)
            e->truncated = 1;
        off += n;
        if (i == PT_ARGC_MAX - 1)
            e->truncated = 1;
    }
    e->args_len = off;
    __u32 size = offsetof(struct pt_exec_event, args) + (off & (PT_ARGS_SIZE - 1));
    if (off >= PT_ARGS_SIZE)
        size = offsetof(struct pt_exec_event, args) + PT_ARGS_SIZE;
    if (pt_events.ringbuf_output(e, size, 0))
        pt_count_lost(PT_PROCESS_PROBE_ID);
    return 0;
}

static __always_inline int pt_exec_exit(long ret)
{
    struct pt_exec_ret_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROCESS_PROBE_ID);
        return 0;
    }
    /* uid here is the one the new program runs with (setuid applied). */
    pt_header_fill(&e->h, PT_EV_EXEC_RET, PT_PROCESS_PROBE_ID);
    e->ret = ret;
    e->loginuid = pt_current_loginuid();
    e->ns_pid = pt_current_ns_pid();
    e->pad = 0;
    pt_events.ringbuf_submit(e, 0);
    return 0;
}

int pt_process__sys_enter_execve(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_execve *args = ctx;
    return pt_exec_enter(args->argv);
}

int pt_process__sys_exit_execve(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_execve *args = ctx;
    return pt_exec_exit(args->ret);
}

int pt_process__sys_enter_execveat(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_execveat *args = ctx;
    return pt_exec_enter(args->argv);
}

int pt_process__sys_exit_execveat(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_execveat *args = ctx;
    return pt_exec_exit(args->ret);
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
    pt_events.ringbuf_submit(e, 0);
    return 0;
}
