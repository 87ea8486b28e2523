/* file_open.bpf.c: opens (open, openat, openat2), with the path as the
 * process passed it, its flags and the result.
 *
 * Opens are the most frequent event on a host, so everything is decided
 * here, before anything is submitted: the write-only switch on the flags
 * (no memory read), then the path prefixes, one lookup of the path in an
 * LPM trie whose longest matching prefix says report or drop (an entry of
 * length 0 is the default: drop when include_paths is given). An open that
 * passes waits in a per-thread map for its result (failed_only is decided
 * there) and is submitted once, with only as many path bytes as it has.
 * The daemon's own opens are never reported: each event makes it read
 * /proc, which would report itself without end.
 *
 * Tracepoint form: syscalls:sys_enter/sys_exit of open, openat, openat2.
 * There is no tracepoint for opens on this kernel besides the syscall
 * ones, and attaching any syscall tracepoint puts every syscall of every
 * task on the slower traced path (README, Performance).
 * Kprobe form: do_sys_openat2 entry and return (every open syscall goes
 * through it since 5.6).
 *
 * Settings: FILE_OPEN_WRITE_ONLY, FILE_OPEN_FAILED_ONLY, FILE_OPEN_SELF_TGID,
 * FILE_OPEN_EXIT_ONLY (the exit hooks alone; the daemon attaches those).
 */

/* open(2)'s flags: ABI, the same on every architecture these kernels run. */
#define FILE_OPEN_O_ACCMODE 3
#define FILE_OPEN_O_CREAT 0100
#define FILE_OPEN_O_TRUNC 01000

BPF_PERCPU_ARRAY(file_open_scratch, struct pt_file_open_event, 1);
BPF_LPM_TRIE(file_open_prefixes, struct pt_file_open_key, __u8, PT_FILE_OPEN_PREFIXES);
/* Opens waiting for their result, by thread; an LRU so that a thread that
 * never returns (killed in the call) cannot fill it. */
BPF_TABLE("lru_hash", __u32, struct pt_file_open_event, file_open_pending, 10240);

/* The open's event in the scratch buffer, unless a switch or a prefix drops
 * it (NULL). The header's time and ids are the caller's now. */
static __always_inline struct pt_file_open_event *file_open_decide(const char *filename,
                                                                   __u32 flags, __u32 mode)
{
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    if ((pid_tgid >> 32) == FILE_OPEN_SELF_TGID || pt_container_dropped(PT_PROBE_ID))
        return NULL;
    /* Written to: the access mode, or a create or truncate. */
    if (FILE_OPEN_WRITE_ONLY && !(flags & (FILE_OPEN_O_ACCMODE | FILE_OPEN_O_CREAT |
                                           FILE_OPEN_O_TRUNC)))
        return NULL;
    __u32 zero = 0;
    struct pt_file_open_event *e = file_open_scratch.lookup(&zero);
    if (!e)
        return NULL;
    long n = pt_read_user_str(e->path, sizeof(e->path), filename);
    if (n <= 0) {
        e->path[0] = '\0';
        n = 1;
    }
    __u32 len = (__u32)(n - 1);
    e->path_len = len;
    e->cut = n == sizeof(e->path);
    e->path_bits = 8 * (len < PT_FILE_OPEN_PREFIX_MAX ? len : PT_FILE_OPEN_PREFIX_MAX);
    __u8 *verdict = file_open_prefixes.lookup((struct pt_file_open_key *)&e->path_bits);
    if (verdict && *verdict == PT_FILE_OPEN_DROP)
        return NULL;
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    e->flags = flags;
    e->mode = mode;
    e->ret = 0;
    e->pad = 0;
    return e;
}

static __always_inline void file_open_submit(struct pt_file_open_event *e, long ret)
{
    e->ret = ret;
    /* The record ends with the path's NUL. The mask, not a comparison,
     * bounds the size for every verifier; path_len is below the size. */
    __u32 size =
        offsetof(struct pt_file_open_event, path) + (e->path_len & (PT_FILE_OPEN_PATH_MAX - 1)) + 1;
    if (pt_events.ringbuf_output(e, size, pt_event_flags()))
        pt_count_lost(PT_PROBE_ID);
}

/* At the call, when the result comes from a second hook: the event waits. */
static __always_inline int file_open_enter(const char *filename, __u32 flags, __u32 mode)
{
    struct pt_file_open_event *e = file_open_decide(filename, flags, mode);
    if (!e)
        return 0;
    __u32 tid = e->h.tid;
    file_open_pending.update(&tid, e);
    return 0;
}

static __always_inline int file_open_exit(long ret)
{
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pt_file_open_event *e = file_open_pending.lookup(&tid);
    if (!e)
        return 0;
    if (!(FILE_OPEN_FAILED_ONLY && ret >= 0))
        file_open_submit(e, ret);
    file_open_pending.delete(&tid);
    return 0;
}

#if PT_ATTACH == PT_ATTACH_TRACEPOINT

int file_open__sys_enter_open(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_open *args = ctx;
    return file_open_enter(args->filename, args->flags, args->mode);
}

int file_open__sys_enter_openat(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_openat *args = ctx;
    return file_open_enter(args->filename, args->flags, args->mode);
}

/* openat2's flags are in a struct open_how in the caller's memory. */
int file_open__sys_enter_openat2(void *ctx)
{
    struct tracepoint__syscalls__sys_enter_openat2 *args = ctx;
    __u64 how[2] = {};
    if (pt_read_user(how, sizeof(how), args->how))
        return 0;
    return file_open_enter(args->filename, (__u32)how[0], (__u32)how[1]);
}

int file_open__sys_exit_open(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_open *args = ctx;
    return file_open_exit(args->ret);
}

/* One hook per open instead of two (FILE_OPEN_EXIT_ONLY: x86-64, 5.15 and
 * later): at the exit, the call's arguments are still in the registers the
 * entry saved (the syscall ABI: di, si, dx, r10), and the path in the
 * caller's memory. Each syscall-tracepoint hook costs every open the
 * tracing path's entry into BPF, so this halves what opens pay. */
#if FILE_OPEN_EXIT_ONLY
static __always_inline int file_open_at_exit(long ret, const char *filename, __u32 flags,
                                             __u32 mode)
{
    if (FILE_OPEN_FAILED_ONLY && ret >= 0)
        return 0;
    struct pt_file_open_event *e = file_open_decide(filename, flags, mode);
    if (e)
        file_open_submit(e, ret);
    return 0;
}

static __always_inline int file_open_regs(struct pt_regs *regs)
{
    struct pt_regs *saved = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
    return bpf_probe_read_kernel(regs, sizeof(*regs), saved);
}

int file_open__sys_exit_open_regs(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_open *args = ctx;
    struct pt_regs r = {};
    if (file_open_regs(&r))
        return 0;
    return file_open_at_exit(args->ret, (const char *)r.di, r.si, r.dx);
}

int file_open__sys_exit_openat_regs(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_open *args = ctx;
    struct pt_regs r = {};
    if (file_open_regs(&r))
        return 0;
    return file_open_at_exit(args->ret, (const char *)r.si, r.dx, r.r10);
}

int file_open__sys_exit_openat2_regs(void *ctx)
{
    struct tracepoint__syscalls__sys_exit_open *args = ctx;
    struct pt_regs r = {};
    __u64 how[2] = {};
    if (file_open_regs(&r) || pt_read_user(how, sizeof(how), (const void *)r.dx))
        return 0;
    return file_open_at_exit(args->ret, (const char *)r.si, (__u32)how[0], (__u32)how[1]);
}
#endif

#else /* PT_ATTACH_KPROBE */

/* do_sys_openat2(int dfd, const char __user *filename, struct open_how *how):
 * `how` is the kernel's copy here. */
int file_open__do_sys_openat2(struct pt_regs *ctx)
{
    __u64 how[2] = {};
    if (bpf_probe_read_kernel(how, sizeof(how), (void *)PT_REGS_PARM3(ctx)))
        return 0;
    return file_open_enter((const char *)PT_REGS_PARM2(ctx), (__u32)how[0], (__u32)how[1]);
}

int file_open__do_sys_openat2_ret(struct pt_regs *ctx)
{
    return file_open_exit(PT_REGS_RC(ctx));
}

#endif
