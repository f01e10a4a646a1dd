"""Executors run the map step: the same task function, in-process, on local processes or on Ray.

An executor takes picklable tasks and a module-level task function and returns
the results in task order; progress events from the tasks reach the caller's
callback. The reduce step never depends on which executor ran the map.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from .errors import UsageError

ProgressSink = Callable[[dict], None]
_worker_queue = None


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def report_progress(event: dict) -> None:
    """Called inside a task: forward a progress event to the driver (no-op when none listens)."""
    sink = _worker_queue
    if sink is None:
        return
    if callable(sink):
        sink(event)
    else:
        sink.put(event)


def _init_worker(progress_queue) -> None:
    global _worker_queue
    _worker_queue = progress_queue


def run_in_process(fn, tasks: Sequence, on_progress: ProgressSink | None) -> list:
    global _worker_queue
    previous, _worker_queue = _worker_queue, on_progress
    try:
        return [fn(task) for task in tasks]
    finally:
        _worker_queue = previous


def run_local(fn, tasks: Sequence, workers: int, on_progress: ProgressSink | None) -> list:
    """Run ``fn`` over ``tasks`` on ``workers`` spawned processes; results in task order."""
    if workers <= 1 or len(tasks) <= 1:
        return run_in_process(fn, tasks, on_progress)
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue()
    results: list = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                             initializer=_init_worker, initargs=(progress_queue,)) as pool:
        pending = {pool.submit(fn, task): index for index, task in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, on_progress)
                for future in done:
                    results[pending.pop(future)] = future.result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(progress_queue, on_progress)
    return results


def _drain(progress_queue, on_progress: ProgressSink | None) -> None:
    while True:
        try:
            event = progress_queue.get_nowait()
        except queue_module.Empty:
            return
        if on_progress is not None:
            on_progress(event)


EXECUTORS = ("local",)


def run_map(fn, tasks: Sequence, *, executor: str = "local", workers: int | None = None,
            on_progress: ProgressSink | None = None, **options) -> list:
    """Dispatch the map step to the named executor."""
    workers = workers or default_workers()
    if executor == "local":
        return run_local(fn, tasks, workers, on_progress)
    if executor == "ray":
        from .ray_executor import run_ray  # optional extra

        return run_ray(fn, tasks, workers=workers, on_progress=on_progress, **options)
    raise UsageError(f"unknown executor {executor!r}; choose local or ray")
