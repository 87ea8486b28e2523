/* syscall_hooks.bpf.c: a program that does nothing (see syscall_hooks.yml). */

int syscall_hooks__pass(void *ctx)
{
    return 0;
}
