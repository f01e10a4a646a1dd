"""Task functions for the Ray tests: faults injected inside Ray workers.

Registered with cloudpickle by value, so Ray workers need not import this file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dft_registry.executors import report_progress
from dft_registry.pipeline import count_task


def fail_once_then_count(task):
    """Raise a transient OSError the first time each task runs (a marker file remembers)."""
    marker = Path(task.spill_dir + ".tried")
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("1")
        raise OSError("simulated transient I/O error")
    return count_task(task)


def crash_on_poison(task):
    """Kill the worker process whenever a task holds an input named poison.txt."""
    if any(item.name == "poison.txt" for item in task.inputs):
        os._exit(1)
    return count_task(task)


def buggy(task):
    raise ValueError("a bug, not an input problem")


def sleepy(seconds: float):
    """A task that takes ``seconds`` and reports when it is done."""
    time.sleep(seconds)
    report_progress({"done": seconds, "at": time.monotonic()})
    return seconds
