"""The Ray executor: the same map tasks as the local executor, scheduled on a Ray cluster.

``run_ray`` takes the module-level task function and picklable tasks that
:func:`dft_registry.executors.run_map` gets, and returns the results in task
order, so the reduce step (and therefore the bundle, byte for byte) does not
depend on where the map ran. What Ray adds:

* every task is submitted at once and collected with ``ray.wait`` as it
  finishes, so one slow file occupies one worker while the others go on;
* a task that dies (worker crash, killed node) or raises a transient error
  (``OSError``, ``ConnectionError``, ``TimeoutError``) is retried
  ``max_retries`` times;
* a map task that still fails is split into one task per input, and an input
  that fails on its own becomes a counted skip in the manifest, like any
  unreadable input (other errors are programming errors and propagate);
* on a multi-node cluster, partial Parquet files written on another node are
  shipped back to the driver through the object store (inputs must be on a
  path every node can read, e.g. a shared file system).

Ray is an optional extra: ``pip install 'dft[ray]'``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import MapTaskFailed, UsageError

ProgressSink = Callable[[dict], None]
TRANSIENT_ERRORS = (OSError, ConnectionError, TimeoutError)
DEFAULT_MAX_RETRIES = 3
PROGRESS_FLUSH_S = 0.5  # a task sends its progress events at most this often
WAIT_TIMEOUT_S = 0.2  # how often the driver drains progress while tasks run


def _import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("Ray is not installed: pip install 'dft[ray]'") from None
    return ray


def ensure_ray(workers: int, address: str | None = None) -> bool:
    """Connect to ``address`` or start a local Ray with ``workers`` CPUs; True if started here."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    # Ray >= 2.5x writes an auth token under ~/.ray unless told not to; a local,
    # single-user cluster needs none.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    options = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True,
               "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=workers, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address!r}" if address else "a local Ray cluster"
        raise UsageError(f"cannot start or reach {where}: {' '.join(str(exc).split())[:200]}; "
                         "check --ray-address or run with --executor local") from None
    return True


class _BufferedProgress:
    """Inside a Ray task: collect progress events and send them in batches to the driver's queue."""

    def __init__(self, queue) -> None:
        self.queue = queue
        self.pending: list[dict] = []
        self.last_flush = time.monotonic()

    def __call__(self, event: dict) -> None:
        self.pending.append(event)
        if time.monotonic() - self.last_flush >= PROGRESS_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            with contextlib.suppress(Exception):  # progress is best effort, never fails a task
                self.queue.put_nowait_batch(self.pending)
            self.pending = []
        self.last_flush = time.monotonic()


def _run_one(fn, task, progress_queue, driver_node: str, ship_files: bool | None):
    """Body of one Ray task: run ``fn(task)`` with progress forwarding; ship files if remote."""
    import ray

    from . import executors

    sink = _BufferedProgress(progress_queue) if progress_queue is not None else None
    previous, executors._worker_queue = executors._worker_queue, sink
    try:
        result = fn(task)
    finally:
        executors._worker_queue = previous
        if sink is not None:
            sink.flush()
    here = ray.get_runtime_context().get_node_id()
    ship = (here != driver_node) if ship_files is None else ship_files
    payload: dict[str, bytes] = {}
    if ship:
        for path in _result_files(result):
            payload[path] = Path(path).read_bytes()
    return result, payload


def _result_files(result) -> list[str]:
    """Paths of the partial files a map result refers to (none for other results)."""
    files = getattr(result, "files", None) or []
    return [path for record in files if isinstance(record, dict) for path in record.values()]


def _install_payload(payload: dict[str, bytes]) -> None:
    """Driver side: write files shipped from another node where the result says they are."""
    for path, data in payload.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)


def run_ray(fn, tasks: Sequence, workers: int, on_progress: ProgressSink | None = None,
            address: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
            ship_files: bool | None = None) -> list:
    """Run ``fn`` over ``tasks`` on Ray; results in task order.

    ``address`` names an existing cluster (``ray://...`` or ``host:port``);
    without it a local Ray with ``workers`` CPUs is started and shut down
    afterwards (an already initialised Ray is used as is and left running).
    ``ship_files`` forces (True) or forbids (False) copying partial files
    back to the driver; by default files are shipped only from other nodes.
    """
    ray = _import_ray()
    if not tasks:
        return []
    started_here = ensure_ray(workers, address)
    try:
        return _run(ray, fn, list(tasks), on_progress, max_retries, ship_files)
    finally:
        if started_here:
            ray.shutdown()


def _run(ray, fn, tasks: list, on_progress, max_retries: int, ship_files) -> list:
    from ray.util.queue import Queue

    progress_queue = Queue() if on_progress is not None else None
    driver_node = ray.get_runtime_context().get_node_id()
    remote = ray.remote(_run_one).options(num_cpus=1, max_retries=max_retries,
                                          retry_exceptions=list(TRANSIENT_ERRORS))

    def submit(task):
        return remote.remote(fn, task, progress_queue, driver_node, ship_files)

    results: list = [None] * len(tasks)
    pending = {submit(task): index for index, task in enumerate(tasks)}
    failed: dict[int, BaseException] = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_TIMEOUT_S)
            _drain(progress_queue, on_progress)
            for ref in done:
                index = pending.pop(ref)
                try:
                    result, payload = ray.get(ref)
                except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError,
                        ray.exceptions.NodeDiedError, ray.exceptions.TaskUnschedulableError) as exc:
                    failed[index] = exc
                    continue
                _install_payload(payload)
                results[index] = result
        _drain(progress_queue, on_progress)
        for index, error in sorted(failed.items()):
            results[index] = _isolate_failure(ray, submit, tasks[index], error, on_progress,
                                              progress_queue)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        if progress_queue is not None:
            progress_queue.shutdown()
    return results


def _drain(progress_queue, on_progress) -> None:
    if progress_queue is None:
        return
    while True:
        size = progress_queue.size()
        if not size:
            return
        for event in progress_queue.get_nowait_batch(size):
            on_progress(event)


def _cause(error: BaseException) -> BaseException:
    """The exception a task raised, unwrapped from Ray's wrapper where possible."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, BaseException) else error


def _is_input_failure(error: BaseException) -> bool:
    """A crash or transient error, as opposed to a bug (which must not be hidden as a skip)."""
    import ray

    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        return True
    return isinstance(_cause(error), (*TRANSIENT_ERRORS, MemoryError))


def _isolate_failure(ray, submit, task, error: BaseException, on_progress, progress_queue):
    """A map task failed after its retries: rerun its inputs one by one; failing ones become skips."""
    from .pipeline import MapResult, MapTask, is_disk_full

    if is_disk_full(_cause(error)):
        raise _cause(error)  # the build turns it into one clear error; not the inputs' fault
    if not isinstance(task, MapTask) or not _is_input_failure(error):
        cause = _cause(error)
        raise MapTaskFailed(f"map task {getattr(task, 'index', '?')} failed on Ray: "
                            f"{type(cause).__name__}: {' '.join(str(cause).split())[:200]}") from None
    if len(task.inputs) == 1:
        return _failed_input_result(task, task.inputs[0], error)
    singles = [dataclasses.replace(task, inputs=(item,), spill_dir=f"{task.spill_dir}/input-{j:05d}")
               for j, item in enumerate(task.inputs)]
    refs = [submit(single) for single in singles]
    merged = MapResult([], _empty_totals(), _empty_skips(), {})
    for single, ref in zip(singles, refs):
        try:
            result, payload = ray.get(ref)
            _install_payload(payload)
        except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError) as single_error:
            if not _is_input_failure(single_error):
                raise MapTaskFailed(f"map task {task.index} failed on Ray: "
                                    f"{' '.join(str(_cause(single_error)).split())[:200]}") from None
            result = _failed_input_result(single, single.inputs[0], single_error)
        merged.files += result.files
        merged.totals.add(result.totals)
        merged.skips.merge(result.skips)
        merged.fingerprints.update(result.fingerprints)
        _drain(progress_queue, on_progress)
    return merged


def _empty_totals():
    from .stats.partial import Totals

    return Totals()


def _empty_skips():
    from .inputs import SkipLog

    return SkipLog()


def _failed_input_result(task, item, error: BaseException):
    """The map result of an input whose task kept failing: no counts, one skip with the reason."""
    from .inputs import fingerprint
    from .pipeline import MapResult, _stored_bytes

    skips = _empty_skips()
    cause = _cause(error)
    reason = type(cause).__name__ if cause is not error else type(error).__name__
    skips.add(item.name, f"map task failed on every try ({reason})")
    try:
        fingerprints = {item.name: (fingerprint(item), _stored_bytes(item))}
    except OSError:
        fingerprints = {}
    return MapResult([], _empty_totals(), skips, fingerprints)
