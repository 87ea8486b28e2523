#!/usr/bin/env python3
"""Socket actions for the integration tests. Prints its pid first, then does
what it is told, so a test knows which process to look for. Addresses are
only ever loopback or the test's own namespace (the caller's choice)."""
import os
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def main():
    print(os.getpid(), flush=True)
    action, args = sys.argv[1], sys.argv[2:]
    if action == "tcp-listen":  # HOST PORT HOLD_SECONDS
        host, port, hold = args[0], int(args[1]), float(args[2])
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(8)
        time.sleep(hold)
    elif action == "tcp-listen-unbound":  # FAMILY(4|6)
        s = socket.socket(socket.AF_INET6 if args[0] == "6" else socket.AF_INET)
        s.listen(1)
        time.sleep(0.2)
    elif action == "udp-bind":  # HOST PORT
        s = socket.socket(family_of(args[0]), socket.SOCK_DGRAM)
        s.bind((args[0], int(args[1])))
        time.sleep(0.3)
    elif action == "udp-send":  # END(close|exit|hold:SECS) HOST:PORT:COUNT ...
        end = args[0]
        dests = [a.rsplit(":", 2) for a in args[1:]]
        s = socket.socket(family_of(dests[0][0]), socket.SOCK_DGRAM)
        for host, port, count in dests:
            for _ in range(int(count)):
                s.sendto(b"x", (host, int(port)))
        finish(s, end)
    elif action == "udp-sendmsg":  # END HOST:PORT:COUNT ... (sendmsg with msg_name)
        end = args[0]
        dests = [a.rsplit(":", 2) for a in args[1:]]
        s = socket.socket(family_of(dests[0][0]), socket.SOCK_DGRAM)
        for host, port, count in dests:
            for _ in range(int(count)):
                s.sendmsg([b"x"], [], 0, (host, int(port)))
        finish(s, end)
    elif action == "udp-connected":  # END HOST PORT COUNT
        end, host, port, count = args[0], args[1], int(args[2]), int(args[3])
        # A bound receiver: without one, the ICMP port-unreachable reply
        # makes the next send on a connected socket fail.
        sink = socket.socket(family_of(host), socket.SOCK_DGRAM)
        sink.bind((host, port))
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        s.connect((host, port))
        for _ in range(count):
            s.send(b"y")
        finish(s, end)
    elif action == "udp-connected-failed-send":  # END HOST PORT COUNT
        # A send naming another destination that fails after the cgroup
        # sendmsg hook saw it (a broadcast without SO_BROADCAST: EACCES,
        # nothing leaves the host), then COUNT sends to the peer.
        end, host, port, count = args[0], args[1], int(args[2]), int(args[3])
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind((host, port))
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((host, port))
        try:
            s.sendto(b"z", ("255.255.255.255", port))
            sys.exit("the broadcast send did not fail")
        except OSError:
            pass
        for _ in range(count):
            s.send(b"y")
        finish(s, end)
    elif action == "udp-send-connect":  # END HOST PORT COUNT: COUNT to PORT+1, connect, COUNT to PORT
        end, host, port, count = args[0], args[1], int(args[2]), int(args[3])
        sink = socket.socket(family_of(host), socket.SOCK_DGRAM)
        sink.bind((host, port))
        s = socket.socket(family_of(host), socket.SOCK_DGRAM)
        for _ in range(count):
            s.sendto(b"x", (host, port + 1))
        s.connect((host, port))
        for _ in range(count):
            s.send(b"y")
        finish(s, end)
    elif action == "tcp-accept":  # HOST PORT COUNT SECONDS: accept COUNT, within SECONDS
        host, port, count, secs = args[0], int(args[1]), int(args[2]), float(args[3])
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(16)
        print("listening", flush=True)
        end = time.monotonic() + secs
        for _ in range(count):
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                conn, peer = s.accept()
            except socket.timeout:
                break
            print("accepted %s %d" % (peer[0], peer[1]), flush=True)
            conn.close()
    elif action == "tcp-connect-from":  # SRC HOST PORT: prints the local port
        src, host, port = args[0], args[1], int(args[2])
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(5)
        s.connect((host, port))
        print(s.getsockname()[1], flush=True)
        s.close()
    else:
        sys.exit("unknown action " + action)


def finish(s, end):
    if end == "close":
        s.close()
        time.sleep(0.2)
    elif end == "exit":
        sys.stdout.flush()
        os._exit(0)
    elif end.startswith("hold:"):
        time.sleep(float(end[5:]))
        s.close()


if __name__ == "__main__":
    main()
