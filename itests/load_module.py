#!/usr/bin/env python3
"""Compiles a module printed by `pidtree-bcc -p` with pidtree-bcc-compile and
loads every program in it through the verifier, without attaching anything.
Prints one line per program received and exits 0 only when all loaded.

    load_module.py COMPILER MODULE.c
"""
import array
import os
import re
import socket
import struct
import subprocess
import sys

MSG = struct.Struct("=Ii128s")  # struct fdpass_msg
PROG, MAP, DONE = 1, 2, 3


def main(compiler, path):
    text = open(path).read()
    # The programs, as the module's header comment lists them.
    specs = sorted({("t:" if kind == "tracepoint" else "k:") + name for kind, name in
                    re.findall(r"^ \* attach (\w+) \S+ -> (\w+)$", text, re.M)})
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    text_fd = os.memfd_create("module", 0)
    os.write(text_fd, text.encode())
    proc = subprocess.Popen([compiler, str(child.fileno()), str(text_fd)] + specs,
                            pass_fds=(child.fileno(), text_fd), stderr=subprocess.PIPE)
    child.close()
    loaded = []
    while True:
        data, anc, _, _ = parent.recvmsg(MSG.size, socket.CMSG_SPACE(4))
        if len(data) != MSG.size:
            break
        kind, status, name = MSG.unpack(data)
        for level, typ, fds in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                os.close(array.array("i", fds)[0])
        if kind == DONE:
            break
        if kind == PROG:
            loaded.append(name.rstrip(b"\0").decode())
    _, err = proc.communicate(timeout=120)
    for name in loaded:
        print("loaded", name)
    missing = sorted(set(s[2:] for s in specs) - set(loaded))
    if proc.returncode != 0 or missing or status != 0:
        sys.stderr.write(err.decode(errors="replace")[-3000:])
        print("not loaded:", " ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
