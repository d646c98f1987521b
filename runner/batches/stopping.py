"""What stops a run cleanly: a signal (SIGINT/SIGTERM), the --deadline, and the step before sending.

Each asks the engine to stop; the engine then reports every row it did not send as a stopped
run does, so the outputs are still written.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from runner.engine.fanout import Engine
from runner.errors import ExitCode

if TYPE_CHECKING:
    from runner.batches.skipexisting import Prepared


class Stoppable(Protocol):
    def request_stop(self, reason: str, *, interrupted: bool = True) -> None: ...


class StopWithPrepare:
    """The engine's stop, which also cancels the step before sending (run --skip-existing's look-ups).

    The look-ups change nothing on the platform, so cancelling them is harmless; a signal or the
    deadline then leaves every row to the engine, which reports them as a stopped run does.
    """

    def __init__(self, engine: Engine[Any]) -> None:
        self._engine = engine
        self._task: asyncio.Task[Prepared] | None = None

    def request_stop(self, reason: str, *, interrupted: bool = True) -> None:
        self._engine.request_stop(reason, interrupted=interrupted)
        if self._task is not None:
            self._task.cancel()

    async def prepared(self, step: Coroutine[Any, Any, Prepared]) -> Prepared:
        from runner.batches.skipexisting import Prepared  # only run --skip-existing gets here, and it has imported it

        self._task = asyncio.ensure_future(step)
        try:
            return await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this run itself is being cancelled, not only the step
            return Prepared()  # stopped: the engine already holds the reason
        finally:
            self._task = None


class StopOnSignals:
    """While active, SIGINT/SIGTERM ask the engine to stop instead of killing the process."""

    def __init__(self, engine: Stoppable, exit_codes: list[ExitCode], *, enabled: bool) -> None:
        self._engine = engine
        self._exit_codes = exit_codes
        self._enabled = enabled
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> None:
        if not self._enabled:
            return
        loop = asyncio.get_running_loop()
        for signum, code in ((signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)):
            loop.add_signal_handler(signum, self._stop, signum, code)
            self._installed.append(signum)

    def _stop(self, signum: signal.Signals, code: ExitCode) -> None:
        if not self._exit_codes:
            self._exit_codes.append(code)
        self._engine.request_stop(f"interrupted by {signum.name}")

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)


class StopAtDeadline:
    """While active, asks the engine to stop once `seconds` have passed (--deadline); None: never."""

    def __init__(self, engine: Stoppable, seconds: float | None) -> None:
        self._engine = engine
        self._seconds = seconds
        self._timer: asyncio.TimerHandle | None = None

    def __enter__(self) -> None:
        if self._seconds is not None:
            self._timer = asyncio.get_running_loop().call_later(self._seconds, self._stop)

    def _stop(self) -> None:
        self._engine.request_stop(f"stopped: the run's deadline ({self._seconds:g} s of sending) was reached; "
                                  "run the same command again to send the rest", interrupted=False)

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
