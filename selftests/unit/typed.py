#!/usr/bin/env python3
"""Types lines into an interactive bash on a terminal, as a user would.

typed.py SCRIPT OUT < LINES: bash sources SCRIPT, then each line of LINES is
typed, "<TAB>" standing for the Tab key (with a pause after it, so that a
completion may ask a daemon), and entered. The shell function lbctl there
prints its words; OUT gets, a line each, the words lbctl got.
"""
import os
import pty
import re
import select
import sys
import time

script, out = sys.argv[1], sys.argv[2]
lines = [line for line in sys.stdin.read().split("\n") if line]
pid, fd = pty.fork()
if pid == 0:
    # Readline's defaults, and no history written into the user's home.
    os.environ.update(INPUTRC="/dev/null", HISTFILE="/dev/null")
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])


def until(marker, wait=5.0):
    got, end = "", time.time() + wait
    while marker not in got and time.time() < end:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                got += os.read(fd, 65536).decode(errors="replace")
            except OSError:
                break
    return got


os.write(fd, ("PS1='> '; source %s; lbctl() { printf 'GOT:%%s|\\n' \"$*\"; }\n" % script).encode())
until("> ")
with open(out, "w") as o:
    for keys in lines:
        for i, part in enumerate(keys.split("<TAB>")):
            if i:
                os.write(fd, b"\t")
                time.sleep(0.5)
            os.write(fd, part.encode())
        os.write(fd, b"\n")
        got = until("|\r\n")
        said = re.findall(r"GOT:(.*)\|\r\n", got)
        o.write((said[-1] if said else "(nothing: %r)" % got[-200:]) + "\n")
os.write(fd, b"exit\n")
os.waitpid(pid, 0)
