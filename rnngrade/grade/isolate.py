"""Start a program in fresh Linux namespaces: no network, its own processes, a read-only view of the disk.

`isolated_command(argv, ...)` wraps a command in
`unshare --mount --net --pid --ipc --uts --fork --kill-child --mount-proc [--map-root-user] -- python -I -S -c
STAGE1 CONFIG` where STAGE1 (this file's `_stage1`, run as root inside the namespaces, before any student code):

1. hides secrets: an empty tmpfs over each hidden directory (the course's source, submissions, autograded and
   feedback folders, the grader's workspace, rnncore's own source for a verification sandbox, the home
   directory's entries that the Python installation does not need) and /dev/null over each hidden file (the
   gradebooks); symbolic links are never followed;
2. keeps one folder of a hidden directory visible (a grading worker's own shard), or mounts a fresh, size-limited
   tmpfs as the working directory (a verification sandbox);
3. remounts every other mount read-only (bind remounts: only this namespace's view changes);
4. brings the loopback interface up when asked (nbgrader talks to its kernel over 127.0.0.1);
5. execs `setpriv` to drop every capability (bounding and inheritable sets, no_new_privs), then the program.

`isolate_forked(cfg)` does the same in a process forked from a warm server, without an exec: it unshares the
namespaces itself, forks the new namespace's PID 1, runs the same steps 1-4 (`_enter`) and drops every
capability with `prctl` and `capset` (it needs root: a non-root process would need a user namespace).

If `unshare` is missing or not permitted, `probe()` says so and callers fall back to no namespace isolation
(resource limits and the sandbox's audit hook still apply). Nothing here changes the host's mounts.
"""

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path


def _enter(cfg):  # standard library only: its source also runs as `python -I -S -c` (see _stage1_source)
    """Steps 1-4 and the working directory, in a process that already has its own mount and network namespaces."""
    import ctypes
    import fcntl
    import os
    import socket
    import struct
    import sys

    libc = ctypes.CDLL(None, use_errno=True)
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = (
        1, 2, 4, 8, 32, 4096, 8192, 16384, 1 << 18)
    MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21

    def enc(s):
        return None if s is None else s.encode()

    def mount(source, target, fstype, flags, data=None):
        if libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
            err = ctypes.get_errno()
            sys.stderr.write(f"isolate: mount {source} on {target} failed: {os.strerror(err)}\n")
            sys.exit(97)

    def tmpfs(target, size):
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")

    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if cfg.get("proc"):  # a /proc that shows only the new PID namespace (`unshare --mount-proc` does it otherwise)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # 1-2. hide, keeping one folder through a staging mount point
    keep, stage = cfg.get("keep"), cfg.get("stage")
    if keep:
        mount(keep, stage, None, MS_BIND | MS_REC)
    for path in cfg["hide"]:
        if os.path.isdir(path) and not os.path.islink(path):
            tmpfs(path, "64k")
        elif os.path.isfile(path) and not os.path.islink(path):
            mount("/dev/null", path, None, MS_BIND)
    writable = []
    if keep:
        os.makedirs(keep, exist_ok=True)
        mount(stage, keep, None, MS_MOVE)
        writable.append(keep)
    if cfg.get("scratch"):
        os.makedirs(cfg["scratch"], exist_ok=True)
        tmpfs(cfg["scratch"], cfg.get("scratch_size", "64m"))
        writable.append(cfg["scratch"])
    # 3. everything else read-only
    flagbits = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
    with open("/proc/self/mountinfo") as fh:
        mounts = [line.split() for line in fh]
    for fields in mounts:
        point = fields[4].replace("\\040", " ")
        opts = fields[5].split(",")
        if "ro" in opts or point in writable or point.startswith(("/proc", "/sys", "/dev/pts")) or point == "/dev":
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for opt in opts:
            flags |= flagbits.get(opt, 0)
        mount(None, point, None, flags)
    # 4. loopback
    if cfg.get("loopback"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ifr = struct.pack("16sH", b"lo", 0)
        up = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, ifr))[1] | 1  # SIOCGIFFLAGS, IFF_UP
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", up))  # SIOCSIFFLAGS
        s.close()
    os.chdir(cfg["cwd"])


def _stage1():  # runs inside the namespaces as `python -I -S -c`, before any student code
    import json
    import os
    import sys

    cfg = json.loads(sys.argv[1])
    _enter(cfg)
    # 5. drop every capability and run the program
    argv = [cfg["setpriv"], "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--", *cfg["argv"]]
    os.execv(cfg["setpriv"], argv)


def _stage1_source():
    import inspect

    return inspect.getsource(_enter) + "\n" + inspect.getsource(_stage1) + "\n_stage1()\n"


@cache
def probe():
    """What isolation this machine allows: {"mode": "namespaces" or "none", "why": ..., tools}.

    Runs a tiny isolated `true` once (cached). "namespaces" needs util-linux's `unshare` and `setpriv`, and either
    root or unprivileged user namespaces.
    """
    unshare, setpriv = shutil.which("unshare"), shutil.which("setpriv")
    if not (unshare and setpriv) or not sys.platform.startswith("linux"):
        return {"mode": "none", "why": "unshare/setpriv not found (util-linux on Linux is needed)"}
    info = {"mode": "namespaces", "unshare": unshare, "setpriv": setpriv, "root": os.geteuid() == 0}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rnngrade-probe-") as tmp:
        cmd = isolated_command(["/bin/true"], cwd=tmp, info=info)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"mode": "none", "why": f"unshare failed: {exc}"}
    if proc.returncode != 0:
        return {"mode": "none", "why": f"unshare failed: {(proc.stderr or proc.stdout).strip()[:300]}"}
    return info


def config(*, cwd, hide=(), keep=None, stage=None, scratch=None, scratch_size="64m", loopback=False):
    """What the isolated process sees (see isolated_command for the arguments): the JSON-able dict _enter reads."""
    return {"hide": [str(p) for p in hide],
            "keep": str(keep) if keep else None, "stage": str(stage) if stage else None,
            "scratch": str(scratch) if scratch else None, "scratch_size": scratch_size, "loopback": loopback,
            "cwd": str(cwd)}


def isolated_command(argv, *, cwd, hide=(), keep=None, stage=None, scratch=None,
                     scratch_size="64m", loopback=False, info=None):
    """The command line that runs `argv` isolated (see the module docstring).

    Parameters
    ----------
    argv : the program and its arguments (absolute path first)
    cwd : its working directory (inside `keep` or `scratch` if those are given)
    hide : paths to hide: a directory gets an empty tmpfs over it, a file /dev/null
    keep, stage : a folder inside a hidden directory to keep visible, and an empty folder outside every hidden
                  directory to stage it through
    scratch : a path to mount a fresh writable tmpfs of `scratch_size` on (the sandbox's empty working directory)
    loopback : bring up `lo` (needed when the program talks to a child over 127.0.0.1)
    info : probe() result (default: probe())
    """
    info = info or probe()
    if info["mode"] != "namespaces":
        raise RuntimeError(f"isolated_command: namespaces are not available here ({info.get('why')})")
    cfg = config(cwd=cwd, hide=hide, keep=keep, stage=stage, scratch=scratch, scratch_size=scratch_size,
                 loopback=loopback)
    cfg.update(setpriv=info["setpriv"], argv=[str(a) for a in argv])
    flags = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]
    if not info.get("root"):
        flags.append("--map-root-user")
    python = str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if not os.path.exists(python):
        python = os.path.realpath(sys.executable)
    return [info["unshare"], *flags, "--", python, "-I", "-S", "-c", _stage1_source(), json.dumps(cfg)]


# The same isolation without exec, for a process forked from a warm fork server (worker.serve): run as root.
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = (
    1, 4, 24, 38, 47, 4)


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    import ctypes

    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"isolate: {what} failed: {os.strerror(err)}")


def die_with_parent():
    """Ask the kernel to SIGKILL this process when its parent dies (what `unshare --kill-child` does)."""
    import signal

    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def drop_capabilities():
    """Empty every capability set of this process and set no_new_privs (what `setpriv` does before its exec)."""
    import ctypes

    libc = _libc()
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        last = int(fh.read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"prctl(PR_CAPBSET_DROP, {cap})")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    sets = (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set, all zero
    _check(libc.capset(ctypes.byref(Header(0x20080522, 0)), sets), "capset")


def isolate_forked(cfg):
    """Isolate this (forked, single-threaded, root) process as isolated_command does, without an exec.

    Unshares the mount, network, PID, IPC and UTS namespaces and forks: the middle process waits and exits with
    the child's status, and only the child returns, as PID 1 of the new PID namespace (when it dies, every
    process of the namespace dies), with its own /proc, the view of the disk of `cfg` (see config), loopback
    when asked, every capability dropped, no_new_privs set and not dumpable. Either parent dying kills it.
    """
    _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET), "unshare")
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        os._exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says
    die_with_parent()
    _enter(dict(cfg, proc=True))
    drop_capabilities()
    # Not dumpable: the programs it starts (a student's kernel) cannot read its memory through /proc or ptrace,
    # where freed bytes of the fork server's earlier requests (other students' ids) may linger.
    _check(_libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def needed_paths():
    """Paths a sandboxed Python must still reach: its prefixes, its executable, and numpy's installation."""
    import numpy

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             os.path.dirname(os.path.dirname(numpy.__file__))}
    import sysconfig

    paths.update(v for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib"))
    return sorted({os.path.realpath(p) for p in paths})


def home_entries_to_hide():
    """Entries of the home directories (yours and root's) that no needed path lies under: they get hidden."""
    needed = needed_paths()
    out = set()
    for home in {os.path.expanduser("~"), "/root"}:
        try:
            entries = list(os.scandir(home))
        except OSError:
            continue
        for entry in entries:
            path = os.path.realpath(entry.path)
            if any(n == path or n.startswith(path + os.sep) for n in needed):
                continue
            out.add(entry.path)
    return sorted(out)
