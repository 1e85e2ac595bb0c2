"""A child's tether to the process that started it (Linux): whatever kills the parent
(SIGKILL included, which no handler sees), the child gets SIGTERM.

`swan.local.child` runs every child of the local stack through this file, as a script with
the standard library only (`python -I -S tether.py ...`, about 20 ms):

    tether.py PARENT_PID [--group GRACE] -- COMMAND [ARG ...]

It asks Linux for a parent-death signal (prctl PR_SET_PDEATHSIG, SIGTERM), makes sure the
parent did not die before that (its pid is still our parent's), then:

- plain: execs COMMAND, which keeps the death signal (Linux keeps it across execve, except
  for set-user-ID programs); nothing stays behind in between.
- `--group`: stays as the leader of COMMAND's process group (the caller started it in a
  session of its own), because a death signal is not inherited: COMMAND's own children
  (bun and vite under `reflex export`) would outlive it. When asked to stop (SIGTERM: the
  parent died or stopped it; SIGINT, SIGHUP), or when COMMAND ends, every other member of
  the group gets SIGTERM, and SIGKILL after GRACE seconds if still there. Exits with
  COMMAND's code (128 + the signal when stopped by one).

The death signal is sent when the *thread* that forked the child ends, not the process
(prctl(2)): `swan.local.child` forks from a thread that lives as long as the process.
Run from a thread, not a terminal: this file prints nothing but why it could not run.
https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
EXIT_ORPHANED = 125  # the parent died before the tether was tied: nothing is run
EXIT_NOT_FOUND = 127  # as a shell says a command cannot be run
_STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Python ignores these at start; a program it runs must find them as the system sets them.
_PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)
_POLL = 0.02
_KILL_WAIT = 5.0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or "--" not in argv:  # noqa: PLR2004  (PARENT -- COMMAND)
        sys.stderr.write("usage: tether.py PARENT_PID [--group GRACE] -- COMMAND [ARG ...]\n")
        return 2
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    parent = int(options[0])
    grace = float(options[2]) if options[1:2] == ["--group"] else None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        sys.stderr.write(f"tether: prctl: {os.strerror(ctypes.get_errno())}\n")
        return 1
    if os.getppid() != parent:  # it died before the line above: nobody would stop us
        return EXIT_ORPHANED
    try:
        if grace is None:
            for number in _PYTHON_IGNORES:
                signal.signal(number, signal.SIG_DFL)
            os.execvp(command[0], command)  # noqa: S606  (the stack's own programs)
        return _lead(command, grace)
    except OSError as error:  # not found, not executable
        sys.stderr.write(f"tether: cannot run {command[0]}: {error.strerror}\n")
        return EXIT_NOT_FOUND


def _lead(command: list[str], grace: float) -> int:
    """Run `command` in our group and end the group with it; see the module docstring."""
    if os.getpgrp() != os.getpid():  # never end a group we do not lead (our caller's)
        os.setpgid(0, 0)
    watched = {signal.SIGCHLD, *_STOPS}
    # Blocked and waited for: no handler runs between two system calls, nothing races.
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    pid = os.posix_spawnp(
        command[0],
        command,
        os.environ,
        setsigmask=(),
        setsigdef=(*_STOPS, *_PYTHON_IGNORES),
    )
    code: int | None = None
    while code is None:
        received = signal.sigwaitinfo(watched)
        if received.si_signo != signal.SIGCHLD:
            code = 128 + received.si_signo
            break
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
    _end_group(grace)
    _reap(pid)
    return code


def _end_group(grace: float) -> None:
    """SIGTERM to the group (ours stays blocked), SIGKILL to who is left after `grace`."""
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _members() and time.monotonic() < deadline:
        time.sleep(_POLL)
    for member in _members():
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:  # gone meanwhile
            continue
    deadline = time.monotonic() + _KILL_WAIT
    while _members() and time.monotonic() < deadline:
        time.sleep(_POLL)


def _members() -> list[int]:
    """The other running members of our process group (a zombie is not running)."""
    group, me = os.getpgrp(), os.getpid()
    found = []
    for name in os.listdir("/proc"):  # noqa: PTH208  (pathlib: 11 ms more at every start)
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as stat:  # noqa: PTH123
                # "pid (name) state ppid pgrp ...": the name may hold spaces, not ")".
                state, _ppid, pgrp = stat.read().rpartition(")")[2].split()[:3]
        except OSError:  # gone while we looked
            continue
        if int(pgrp) == group and state != "Z":
            found.append(int(name))
    return found


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already
        return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
