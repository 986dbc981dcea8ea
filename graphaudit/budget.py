"""A time budget for work that calls native code which can spin or crash (HDF5): run it in a forked child."""

# A damaged HDF5 file can make the library loop forever or crash inside C code, where no Python
# signal or thread can stop it. A forked child costs a few milliseconds (measured in
# bench/bench_hostile.py), shares everything already imported, and can be killed. Where fork is
# missing (Windows) the work runs in this process, without a budget.

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import time
from typing import Callable, TypeVar

T = TypeVar("T")


class BudgetExceeded(Exception):
    """The work ran past its time budget, or its process died; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def can_fork() -> bool:
    return hasattr(os, "fork")


def run_with_budget(work: Callable[[], T], timeout: float) -> T:
    """``work()``, in a forked child killed after ``timeout`` seconds; its exceptions are re-raised here.

    The child sends its result back pickled through a pipe. Only this process's own objects
    travel that way, never bytes from the artifact, so unpickling them executes nothing foreign.
    """
    if timeout <= 0 or not can_fork():
        return work()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, send the outcome, leave without running cleanups
        status = 0
        try:
            os.close(read_fd)
            faulthandler.disable()  # a crash is reported by the parent in one line, not dumped here
            try:
                payload = pickle.dumps((True, work()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
                try:
                    payload = pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 - an exception that does not pickle
                    payload = pickle.dumps((False, RuntimeError(str(exc)[:500])))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise BudgetExceeded(f"took longer than the {timeout:g} s time budget")
            ready, _, _ = select.select([read_fd], [], [], left)
            if ready:
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            raise BudgetExceeded(f"crashed the reading process ({name}; native code failed on it)")
        raise BudgetExceeded("stopped the reading process before it could answer")
    ok, value = pickle.loads(b"".join(chunks))
    if ok:
        return value
    raise value
