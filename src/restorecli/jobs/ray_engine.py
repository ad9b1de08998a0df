"""A folder's batch on Ray (``restore batch --engine ray``): one actor per worker holds the model.

The driver plans the folder as the local engine does (``folders.plan_batch``), starts a local
Ray or joins a cluster, and hands work to whichever worker is idle: a file, or a segment of a
long video (``jobs/video_split.py``) and then its join. Each worker builds its restorer once
(the picklable ``make_restorer``) and runs files through ``folders.restore_item``, so outputs,
names, atomic writes and per-file failures are the local engine's; the report comes back in
the plan's order. Workers read and write the files themselves: on a cluster the folders must
be on a shared filesystem at the same path on every machine.

A worker that dies (killed, out of memory) is restarted by Ray and its unit of work handed out
again, up to ``RayOptions.retries`` times; outputs are published whole, so a unit run twice
leaves one file. Ray is optional: nothing here imports it until a batch runs.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from restorecli.errors import EXIT_INTERNAL, RestoreError
from restorecli.jobs.folders import RESTORE, BatchItem, BatchReport, planned_result, restore_item
from restorecli.jobs.options import FileOptions
from restorecli.jobs.results import FAILED, FileResult
from restorecli.jobs.video_split import (
    SegmentDone,
    SplitError,
    SplitJob,
    SplitPolicy,
    join_segments,
    plan_split,
    restore_segment,
)
from restorecli.media import VIDEO

RAY_MISSING = 'the Ray engine needs Ray, which is not installed: pip install "restorecli[ray]"'

# Builds the restorer in each worker (a FrameRestorer, or an AutoRestorer for --task auto);
# pickled to the workers, so a module-level function or a functools.partial of one.
RestorerFactory = Callable[[], Any]


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


@dataclasses.dataclass
class RayOptions:
    """Where the batch runs and how it is split."""

    address: str | None = None  # None: start a local Ray on this machine
    workers: int | None = None  # None: one per CPU of the local Ray or of the cluster
    retries: int = 2  # times a unit of work is handed out again after its worker died
    gpus_per_worker: float = 0.0
    split: SplitPolicy | None = dataclasses.field(default_factory=SplitPolicy)  # None: never

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.retries < 0:
            raise ValueError("retries must be at least 0")


@dataclasses.dataclass
class WorkerInfo:
    """A worker's restorer, as the driver names it in notes (or why it could not be built)."""

    name: str | None = None
    task: str | None = None
    error: Exception | None = None


class RestoreWorker:
    """The actor: builds the restorer once, then restores files, segments and joins."""

    def __init__(self, make_restorer: RestorerFactory) -> None:
        self.error: Exception | None = None
        try:
            self.restorer = make_restorer()
        except RestoreError as exc:
            self.error = exc
        except Exception as exc:  # an arbitrary exception may not unpickle on the driver
            self.error = RuntimeError(f"{type(exc).__name__}: {exc}")

    def info(self) -> WorkerInfo:
        if self.error is not None:
            return WorkerInfo(error=self.error)
        return WorkerInfo(
            getattr(self.restorer, "name", None), getattr(self.restorer, "task", None)
        )

    def restore(self, item: BatchItem, options: FileOptions) -> FileResult:
        return restore_item(self.restorer, item, options)

    def segment(self, job: SplitJob, k: int, options: FileOptions) -> SegmentDone | FileResult:
        return _guarded(job, lambda: restore_segment(self.restorer, job, k, options))

    def join(
        self, job: SplitJob, parts: list[SegmentDone], options: FileOptions
    ) -> FileResult | None:
        return _guarded(job, lambda: join_segments(self.restorer, job, parts, options))


def _guarded(job: SplitJob, run: Callable[[], Any]) -> Any:
    """``run()``; a SplitError gives None (restore the file whole), another error a FAILED
    result for the file."""
    try:
        return run()
    except SplitError:
        return None
    except RestoreError as exc:
        message, code = str(exc), exc.exit_code
    except Exception as exc:
        message, code = f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL
    return FileResult(str(job.src), None, FAILED, VIDEO, message=message, exit_code=code)


@dataclasses.dataclass
class _Unit:
    """One call on a worker: a whole file, a segment of a split video, or its join."""

    index: int  # the item's position in the plan
    method: str  # "restore", "segment" or "join"
    args: tuple[Any, ...]
    attempts: int = 0


@dataclasses.dataclass
class _Split:
    job: SplitJob
    started: float | None = None  # when its first segment went to a worker
    parts: dict[int, SegmentDone] = dataclasses.field(default_factory=dict)


def run_batch_ray(
    make_restorer: RestorerFactory,
    items: Iterable[BatchItem],
    options: FileOptions,
    ray_options: RayOptions | None = None,
    *,
    on_ready: Callable[[WorkerInfo], None] | None = None,
    on_done: Callable[[FileResult], None] | None = None,
) -> BatchReport:
    """Restore every RESTORE item on Ray workers; the report lists the items in plan order.

    ``on_ready(info)`` runs once, when the first worker has its model; ``on_done(result)`` runs
    as each file's result comes back (files the plan settled come first). Raises the
    RestoreError that kept the first worker from building its restorer (missing weights, a
    setting the model refuses). Joins the Ray it finds running (``ray.init`` before the call);
    otherwise starts or connects to one for the call and shuts it down after.
    """
    ray_options = ray_options or RayOptions()
    items = list(items)
    results: list[FileResult | None] = [None] * len(items)
    for i, item in enumerate(items):
        if item.action != RESTORE:
            results[i] = planned_result(item)
            if on_done is not None:
                on_done(results[i])
    todo = [i for i, item in enumerate(items) if item.action == RESTORE]
    if todo:
        import ray

        started_ray = _connect(ray_options)
        try:
            runner = _Runner(items, results, options, ray_options, on_ready, on_done)
            runner.run(make_restorer, todo)
        finally:
            if started_ray:
                ray.shutdown()
    return BatchReport([r for r in results if r is not None])


def _connect(ray_options: RayOptions) -> bool:
    """Start a local Ray or join the cluster at ``address``; False if one was already joined."""
    import ray

    if ray.is_initialized():
        return False
    # Worker output would mix into --json on stdout; results carry what they have to say.
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if ray_options.address is None:
        cpus = ray_options.workers or os.cpu_count() or 1
        ray.init(num_cpus=cpus, include_dashboard=False, **quiet)
    else:
        ray.init(address=ray_options.address, **quiet)
    return True


class _Runner:
    """Hands units of work to idle workers and collects what comes back (driver side)."""

    def __init__(
        self,
        items: list[BatchItem],
        results: list[FileResult | None],
        options: FileOptions,
        ray_options: RayOptions,
        on_ready: Callable[[WorkerInfo], None] | None,
        on_done: Callable[[FileResult], None] | None,
    ) -> None:
        self.items = items
        self.results = results
        self.options = options
        self.ray_options = ray_options
        self.on_ready = on_ready
        self.on_done = on_done
        self.pending: collections.deque[_Unit] = collections.deque()
        self.splits: dict[int, _Split] = {}  # videos being cut, by item
        self.jobs: list[SplitJob] = []  # every video cut, for the last cleanup
        self.idle: list[Any] = []
        self.deaths: dict[Any, int] = {}
        self.starting: dict[Any, Any] = {}  # info() ref -> actor
        self.running: dict[Any, tuple[Any, _Unit]] = {}  # call ref -> (actor, unit)
        self.ready = False

    def run(self, make_restorer: RestorerFactory, todo: list[int]) -> None:
        import ray

        most = self._most_workers()
        for i in todo:
            self._queue_file(i, most)
        workers = min(most, len(self.pending))  # no more models loaded than units to run
        actor_class = ray.remote(
            num_cpus=1,
            num_gpus=self.ray_options.gpus_per_worker,
            max_restarts=self.ray_options.retries,
            max_task_retries=0,  # a unit is handed out again by _lost, to any worker
        )(RestoreWorker)
        actors = [actor_class.remote(make_restorer) for _ in range(workers)]
        self.deaths = {actor: 0 for actor in actors}
        self.starting = {actor.info.remote(): actor for actor in actors}
        try:
            while self.pending or self.running or (self.starting and not self.ready):
                self._dispatch()
                waiting = [*self.starting, *self.running]
                if not waiting:  # every worker gone: nothing more can run
                    self._fail_pending("no Ray worker left to run it")
                    break
                done, _ = ray.wait(waiting, num_returns=1)
                for ref in done:
                    if ref in self.starting:
                        self._started(ref)
                    else:
                        self._finished(ref)
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
            for job in self.jobs:  # a segment still running when its file went whole
                job.cleanup()

    def _most_workers(self) -> int:
        """``workers``, at most one per CPU Ray has (each worker takes one)."""
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(self.ray_options.workers or cpus, cpus))

    # --- queueing ------------------------------------------------------------------------------

    def _queue_file(self, i: int, workers: int) -> None:
        """A file, or the segments of a long video."""
        item = _absolute(self.items[i])
        job = self._plan_split(item, workers)
        if job is None:
            self.pending.append(_Unit(i, "restore", (item, self.options)))
            return
        self.splits[i] = _Split(job)
        self.jobs.append(job)
        for k in range(len(job.segments)):
            self.pending.append(_Unit(i, "segment", (job, k, self.options)))

    def _plan_split(self, item: BatchItem, workers: int) -> SplitJob | None:
        policy = self.ray_options.split
        if policy is None or item.kind != VIDEO or workers < 2:
            return None
        try:
            from restorecli.jobs.outputs import check_destination
            from restorecli.media.video import probe_video

            check_destination(
                item.dst,
                VIDEO,
                overwrite=self.options.overwrite,
                input_paths=[item.src],
                create_parents=True,
            )
            header = probe_video(item.src).frames
            return plan_split(item.src, item.dst, policy, workers, header_frames=header)
        except RestoreError:
            return None  # the whole restore reports it, as the local engine would

    def _dispatch(self) -> None:
        while self.pending and self.idle:
            actor = self.idle.pop()
            unit = self.pending.popleft()
            split = self.splits.get(unit.index)
            if split is not None and split.started is None:
                split.started = time.perf_counter()
            ref = getattr(actor, unit.method).remote(*unit.args)
            self.running[ref] = (actor, unit)

    # --- what comes back -----------------------------------------------------------------------

    def _started(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError

        actor = self.starting.pop(ref)
        try:
            info: WorkerInfo = ray.get(ref)
        except RayActorError:
            self._actor_died(actor)
            return
        if info.error is not None:
            raise info.error  # every worker builds the same restorer: stop the batch
        if not self.ready and self.on_ready is not None:
            self.on_ready(info)
        self.ready = True
        self.idle.append(actor)

    def _finished(self, ref: Any) -> None:
        import ray
        from ray.exceptions import OutOfMemoryError, RayActorError

        actor, unit = self.running.pop(ref)
        try:
            value = ray.get(ref)
        except (RayActorError, OutOfMemoryError):
            self._lost(unit)
            self._actor_died(actor)
            return
        self.idle.append(actor)
        if unit.method == "restore":
            self._file_done(unit.index, value)
        elif unit.method == "segment":
            self._segment_done(unit, value)
        elif value is None:  # a join whose segments did not line up
            self._restore_whole(unit.index)
        else:
            split = self.splits.pop(unit.index)
            split.job.cleanup()
            assert split.started is not None
            value.seconds = round(time.perf_counter() - split.started, 3)
            self._file_done(unit.index, value)

    def _segment_done(self, unit: _Unit, value: SegmentDone | FileResult | None) -> None:
        split = self.splits.get(unit.index)
        if split is None:  # the file already failed or went whole
            return
        if value is None:
            self._restore_whole(unit.index)
        elif isinstance(value, FileResult):
            self._drop_split(unit.index)
            self._file_done(unit.index, value)
        else:
            split.parts[unit.args[1]] = value
            if len(split.parts) == len(split.job.segments):
                parts = [split.parts[k] for k in range(len(split.job.segments))]
                self.pending.appendleft(_Unit(unit.index, "join", (split.job, parts, self.options)))

    def _restore_whole(self, i: int) -> None:
        """Segments that cannot be joined exactly: the file again, in one piece."""
        self._drop_split(i)
        self.pending.appendleft(_Unit(i, "restore", (_absolute(self.items[i]), self.options)))

    def _drop_split(self, i: int) -> None:
        split = self.splits.pop(i, None)
        if split is not None:
            self.pending = collections.deque(u for u in self.pending if u.index != i)
            split.job.cleanup()

    def _file_done(self, i: int, result: FileResult) -> None:
        self.results[i] = _as_planned(self.items[i], result)
        if self.on_done is not None:
            self.on_done(self.results[i])

    def _lost(self, unit: _Unit) -> None:
        """A unit whose worker died: handed out again, able to replace its own partial or
        complete output (the plan found none there), or failed after ``retries`` tries."""
        if unit.index in self.splits or unit.method == "restore":
            unit.attempts += 1
            if unit.attempts > self.ray_options.retries:
                self._drop_split(unit.index)
                item = self.items[unit.index]
                message = f"{item.src}: its Ray worker died {unit.attempts} times (out of memory?)"
                self._file_done(unit.index, _failure(item, message))
                return
            options = dataclasses.replace(self.options, overwrite=True)
            args = (*unit.args[:-1], options)
            self.pending.appendleft(dataclasses.replace(unit, args=args))

    def _actor_died(self, actor: Any) -> None:
        """Ray restarts a worker up to ``retries`` times (the model loaded anew); then it is
        gone for the rest of the batch. A restarting worker gets no work until it answers: a
        call made while it restarts fails at once (at-most-once calls), and on a busy machine
        a unit handed to it then would use up its retries without ever running."""
        self.deaths[actor] += 1
        if self.deaths[actor] <= self.ray_options.retries:
            # Retried by Ray until the restart is done (or the worker is gone for good).
            self.starting[actor.info.options(max_task_retries=-1).remote()] = actor

    def _fail_pending(self, why: str) -> None:
        for i in {u.index for u in self.pending} | set(self.splits):
            if self.results[i] is None:
                self._file_done(i, _failure(self.items[i], f"{self.items[i].src}: {why}"))
        self.pending.clear()


def _absolute(item: BatchItem) -> BatchItem:
    """Workers do not share the driver's working directory: paths go out absolute."""
    return dataclasses.replace(
        item, src=Path(os.path.abspath(item.src)), dst=Path(os.path.abspath(item.dst))
    )


def _as_planned(item: BatchItem, result: FileResult) -> FileResult:
    """A worker's result named with the plan's paths, as the local engine names them."""
    src, dst = os.path.abspath(item.src), os.path.abspath(item.dst)
    result.input = str(item.src)
    if result.output is not None:
        result.output = str(item.dst)
    result.message = result.message.replace(src, str(item.src)).replace(dst, str(item.dst))
    result.notes = [n.replace(src, str(item.src)) for n in result.notes]
    return result


def _failure(item: BatchItem, message: str) -> FileResult:
    return FileResult(str(item.src), None, FAILED, item.kind, message=message, exit_code=1)
