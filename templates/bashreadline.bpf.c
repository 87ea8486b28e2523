/* bashreadline.bpf.c: every line an interactive bash reads from its user.
 *
 * A uretprobe on readline() in the shell's binary (the probe's `binary`
 * option): bash calls it once per line typed at its prompt, and its return
 * value is the line, in the shell's memory, before bash parses or runs it.
 * Only bash processes pay (a trap per line read); nothing else on the host
 * is slowed. An empty line (Enter alone) and end of input (NULL) are not
 * reported.
 */

int bashreadline__readline_ret(struct pt_regs *ctx)
{
    const char *line = (const char *)PT_REGS_RC(ctx);
    char first = 0;
    if (!line || pt_read_user(&first, sizeof(first), line) || !first ||
        pt_container_dropped(PT_PROBE_ID))
        return 0;
    struct pt_bashreadline_event *e = pt_events.ringbuf_reserve(sizeof(*e));
    if (!e) {
        pt_count_lost(PT_PROBE_ID);
        return 0;
    }
    pt_header_fill(&e->h, PT_EV_PROBE, PT_PROBE_ID);
    long n = pt_read_user_str(e->line, sizeof(e->line), line);
    if (n < 0)
        e->line[0] = '\0';
    e->cut = n == sizeof(e->line);
    e->pad = 0;
    pt_events.ringbuf_submit(e, pt_event_flags());
    return 0;
}
