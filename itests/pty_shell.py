#!/usr/bin/env python3
"""Types lines into an interactive shell on a pseudo-terminal, as a person
at a terminal would: SHELL_ARGV... -- LINE... Prints the shell's pid first,
then each line once the shell has echoed it back. Bounded: each line waits
at most 10 s for its echo, the shell at most 10 s to exit."""
import os
import pty
import select
import sys
import time


def read_until(fd, needle, timeout):
    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return needle in seen


def main():
    split = sys.argv.index("--")
    argv, lines = sys.argv[1:split], sys.argv[split + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    print(pid, flush=True)
    time.sleep(0.5)  # the prompt
    for line in lines:
        data = line.encode() + b"\n"
        os.write(fd, data)
        # The terminal echoes what readline took; then the next line.
        if line and not read_until(fd, line.encode()[-8:], 10):
            sys.exit("no echo of %r" % line)
        time.sleep(0.3)
        print(line, flush=True)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        read_until(fd, b"\0", 0.1)  # keep the terminal drained
    os.kill(pid, 9)
    sys.exit("the shell did not exit")


main()
