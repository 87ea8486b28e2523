#!/usr/bin/env python3
"""Both ends of a connection for the rules tests (loopback only).

  rules_peer.py listen HOST PORT SECONDS   prints "ready" once listening, then
                                           "accepted" or "nothing" after at
                                           most SECONDS
  rules_peer.py connect HOST PORT HOLD     prints its pid, then "connected" or
                                           "error ERRNO", then sleeps HOLD s
  rules_peer.py storm HOST PORT COUNT      COUNT connects, 5 ms apart
"""
import os
import select
import socket
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def main():
    action, host, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if action == "listen":
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(8)
        print("ready", flush=True)
        ready, _, _ = select.select([s], [], [], secs)
        print("accepted" if ready else "nothing", flush=True)
    elif action == "storm":
        for _ in range(int(secs)):
            s = socket.socket(family_of(host), socket.SOCK_STREAM)
            try:
                s.connect((host, port))
            except OSError:
                pass
            s.close()
            time.sleep(0.005)
    elif action == "connect":
        print(os.getpid(), flush=True)
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            print("connected", flush=True)
        except OSError as e:
            print("error", e.errno, flush=True)
        time.sleep(secs)


main()
