#!/usr/bin/env python3
"""Opens files as the file_open test asks: prints its pid first, then for
each argument MODE:PATH opens PATH through the syscall MODE names and closes
it. MODE is read (openat, O_RDONLY), write (openat, O_WRONLY|O_CREAT|
O_TRUNC|O_CLOEXEC), open (open(2), O_RDONLY, where the architecture has it)
or openat2 (openat2(2), O_RDONLY). Python adds O_CLOEXEC to read and
write. A failed open is not an error here."""
import ctypes
import os
import platform
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
# Syscall numbers of x86_64 and aarch64 (no open(2) there).
NR = {"x86_64": {"open": 2, "openat2": 437}, "aarch64": {"openat2": 437}}[platform.machine()]


def syscall_open(mode, path):
    p = path.encode()
    if mode == "open":
        return LIBC.syscall(NR["open"], p, os.O_RDONLY, 0)
    how = ctypes.create_string_buffer(struct.pack("QQQ", os.O_RDONLY, 0, 0))
    return LIBC.syscall(NR["openat2"], AT_FDCWD, p, how, 24)


def main():
    print(os.getpid(), flush=True)
    for arg in sys.argv[1:]:
        mode, path = arg.split(":", 1)
        try:
            if mode == "read":
                fd = os.open(path, os.O_RDONLY)
            elif mode == "write":
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            else:
                fd = syscall_open(mode, path)
            if fd >= 0:
                os.close(fd)
        except OSError:
            pass


main()
