/* exec.bpf.c: execs that failed, when include_failed is set.
 *
 * A successful exec is reported from the record the process lifecycle
 * (process.bpf.c, sched:sched_process_exec) sends for every exec anyway,
 * so the exec probe costs the kernel nothing more. A failed exec never
 * reaches that tracepoint: execve/execveat's syscall tracepoints catch it,
 * the path at entry and the result at exit. They are attached only with
 * include_failed (point_active in probes/exec.c), since any syscall
 * tracepoint slows every syscall on the host (README, Performance). The
 * kprobe form is the same: syscall tracepoints exist wherever kprobes do.
 */

BPF_PERCPU_ARRAY(exec_scratch, struct pt_exec_failed_event, 1);
/* Execs waiting for their result, by thread; an LRU, as a successful exec
 * from a thread other than the leader returns in the leader's tid. */
BPF_TABLE("lru_hash", __u32, struct pt_exec_failed_event, exec_pending, 4096);

static __always_inline int exec_enter(const char *filename)
{
    if (pt_container_dropped(PT_PROBE_ID))
        return 0;
    __u32 zero = 0;
    struct pt_exec_failed_event *e = exec_scratch.lookup(&zero);
    if (!e)
        return 0;
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    long n = pt_read_user_str(e->filename, sizeof(e->filename), filename);
    e->filename_len = n > 0 ? n - 1 : 0;
    if (n <= 0)
        e->filename[0] = '\0';
    e->ret = 0;
    __u32 tid = e->h.tid;
    exec_pending.update(&tid, e);
    return 0;
}

static __always_inline int exec_exit(long ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pt_exec_failed_event *e = exec_pending.lookup(&tid);
    if (!e)
        return 0;
    if (ret < 0) {
        e->ret = ret;
        /* The mask, not a comparison, bounds the size for the verifier
         * (clang may compare a copy); filename_len is below PT_FILENAME_MAX. */
        __u32 size = offsetof(struct pt_exec_failed_event, filename) +
                     (e->filename_len & (PT_FILENAME_MAX - 1)) + 1;
        if (pt_events.ringbuf_output(e, size, pt_event_flags()))
            pt_count_lost(PT_PROBE_ID);
    }
    exec_pending.delete(&tid);
    return 0;
}

int exec__sys_enter_execve(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_execve *args = ctx;
    return exec_enter(args->filename);
}

int exec__sys_enter_execveat(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_execveat *args = ctx;
    return exec_enter(args->filename);
}

/* execve and execveat exit with the same record: one program serves both. */
int exec__sys_exit_execve(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_execve *args = ctx;
    return exec_exit(args->ret);
}
