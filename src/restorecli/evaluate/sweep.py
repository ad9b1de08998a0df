"""Sweeps over restore options: the cartesian product of value lists, one result per setting.

Any option declared sweepable in ``restorecli.config`` can take a list (``init`` also ``all`` =
every initial state); plus the load-time ones ``weights`` and ``precision``. One model is
loaded per (weights, precision) and reused for all its settings: only its ``config`` changes
between runs, so its Chebyshev table is built (or read from the cache) once.

Options not given keep the model's own defaults (its registered init and step count).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from restorecli.config import INIT_MODES, check_value, declaration, sweep_options
from restorecli.evaluate.metrics import METRIC_NAMES, Metrics
from restorecli.evaluate.paired import EvalResult, ImageCallback, Pair, evaluate_pairs
from restorecli.evaluate.tables import Table

if TYPE_CHECKING:
    from restorecli.pipeline import Restorer

__all__ = [
    "CONFIG_OPTIONS",
    "LOAD_OPTIONS",
    "Setting",
    "SweepRow",
    "effective_setting",
    "expand_grid",
    "images_table",
    "parse_values",
    "per_image_csv",
    "run_sweep",
    "summary_table",
    "varying_keys",
]

METRIC_LABELS = {"psnr": "PSNR", "ssim": "SSIM", "psnr_y": "PSNR-Y", "ssim_y": "SSIM-Y"}

# Option -> value type, in the order settings are labelled and tables list them: every
# RestoreConfig option declared sweepable (restorecli.config).
CONFIG_OPTIONS: dict[str, type] = sweep_options()
LOAD_OPTIONS: dict[str, type] = {"weights": str, "precision": str}


@dataclass(frozen=True)
class Setting:
    """One point of the grid: what to load and which config fields to override."""

    weights: str | None = None
    precision: str = "fp32"
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def label(self, keys: Iterable[str] | None = None) -> str:
        """``init=zq steps=2`` (only ``keys`` if given: the options that vary)."""
        values = {"weights": self.weights, "precision": self.precision, **self.overrides}
        keys = list(values) if keys is None else list(keys)
        return " ".join(f"{k}={_short(values[k])}" for k in keys if k in values)

    def slug(self, keys: Iterable[str] | None = None) -> str:
        """The label as a file-name-safe folder name."""
        text = self.label(keys).replace("=", "-").replace(" ", "_") or "default"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", text)


@dataclass
class SweepRow:
    """One setting's result; ``config`` holds every effective option (defaults included)."""

    setting: Setting
    config: dict[str, Any]
    result: EvalResult

    @property
    def mean(self) -> Metrics:
        return self.result.mean

    def as_dict(self) -> dict[str, Any]:
        return {"config": self.config, **self.result.as_dict()}


def parse_values(option: str, text: str | Sequence[Any] | None) -> list[Any] | None:
    """``"1,2,4"`` -> ``[1, 2, 4]`` typed for ``option``; ``init=all`` -> every initial state.

    ``seed`` -1 means a fresh random seed (None), as on the ``restore`` command line. Raises
    ValueError naming the option on a bad value. None (option not given) stays None.
    """
    if text is None:
        return None
    kind = {**CONFIG_OPTIONS, **LOAD_OPTIONS}.get(option)
    if kind is None:
        raise ValueError(f"cannot sweep {option!r}: choose from {', '.join(_sweepable())}")
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    items = [s for s in items if s != ""]
    if not items:
        raise ValueError(f"--{_flag(option)}: give at least one value")
    if option == "init" and any(str(s).lower() == "all" for s in items):
        return list(INIT_MODES)
    values: list[Any] = []
    for item in items:
        try:
            value = kind(item) if not isinstance(item, kind) else item
        except ValueError:
            raise ValueError(f"--{_flag(option)}: {item!r} is not a {kind.__name__}") from None
        if option == "init" and value not in INIT_MODES:
            raise ValueError(f"--init: unknown {value!r}, use {', '.join(INIT_MODES)} or all")
        if option in CONFIG_OPTIONS and option != "init":
            try:
                check_value(option, value, declaration(option), None)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        if option == "seed" and value < 0:
            value = None
        values.append(value)
    return list(dict.fromkeys(values))  # drop repeats, keep order


def expand_grid(grid: Mapping[str, Sequence[Any] | None]) -> list[Setting]:
    """Cartesian product of the given lists (None entries = option not swept), in grid order.

    ``weights`` and ``precision`` vary slowest so that settings sharing a model are adjacent.
    """
    given = {k: list(v) for k, v in grid.items() if v is not None}
    for key in given:
        if key not in CONFIG_OPTIONS and key not in LOAD_OPTIONS:
            raise ValueError(f"cannot sweep {key!r}: choose from {', '.join(_sweepable())}")
    weights = given.pop("weights", [None])
    precision = given.pop("precision", ["fp32"])
    keys = list(given)
    settings = []
    for w, p in itertools.product(weights, precision):
        for combo in itertools.product(*(given[k] for k in keys)):
            settings.append(Setting(w, p, dict(zip(keys, combo, strict=True))))
    return settings


def varying_keys(settings: Sequence[Setting]) -> list[str]:
    """Options whose value differs between settings (what a label must show)."""
    keys: list[str] = []
    for key in (*LOAD_OPTIONS, *CONFIG_OPTIONS):
        seen = {_value_of(s, key) for s in settings}
        if len(seen) > 1:
            keys.append(key)
    return keys


def effective_setting(restorer: Restorer, setting: Setting) -> dict[str, Any]:
    """Every option as the run uses it: the config fields, effective kappa, weights, model."""
    config = (
        dataclasses.asdict(restorer.config) if dataclasses.is_dataclass(restorer.config) else {}
    )
    schedule = getattr(restorer, "schedule", None)
    if schedule is not None:
        config["kappa"] = float(schedule.kappa)
    return {
        "weights": setting.weights,
        "model": getattr(restorer, "name", None),
        "precision": setting.precision,
        **config,
    }


Loader = Callable[[str | None, str], Any]
RowCallback = Callable[[SweepRow], None]


def run_sweep(
    pairs: Sequence[Pair],
    settings: Sequence[Setting],
    *,
    load: Loader,
    crop_border: int = 0,
    on_image: Callable[[Setting], ImageCallback | None] | None = None,
    on_row: RowCallback | None = None,
    max_pixels: int | None = None,
) -> list[SweepRow]:
    """Evaluate ``pairs`` at every setting; ``load(weights, precision)`` makes a Restorer.

    Settings that share weights and precision reuse one loaded model (loaded when first needed,
    released when the next model is loaded). ``on_image(setting)`` may return a per-image
    callback (e.g. an ``OutputSaver``); ``on_row`` is called as each setting finishes.
    """
    rows: list[SweepRow] = []
    input_cache: dict[str, Metrics] = {}
    loaded_key: tuple[str | None, str] | None = None
    restorer: Restorer | None = None
    base_config: Any = None
    for setting in settings:
        key = (setting.weights, setting.precision)
        if key != loaded_key:
            restorer = None  # free the previous model before loading the next
            restorer = load(setting.weights, setting.precision)
            base_config, loaded_key = restorer.config, key
        restorer.config = dataclasses.replace(base_config, **dict(setting.overrides))
        callback = on_image(setting) if on_image is not None else None
        result = evaluate_pairs(
            restorer,
            pairs,
            setting=effective_setting(restorer, setting),
            crop_border=crop_border,
            input_cache=input_cache,
            on_image=callback,
            max_pixels=max_pixels,
        )
        row = SweepRow(setting, result.setting, result)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def summary_table(rows: Sequence[SweepRow], *, title: str = "", with_input: bool = True) -> Table:
    """One row per setting: the options that vary (init and steps always), mean scores of the
    output, then of the degraded input (unless ``with_input`` is False), and seconds per image."""
    keys = _shown_keys(rows)
    header = [*keys, *_metric_header(with_input), "seconds/image"]
    body = []
    for row in rows:
        n = max(1, len(row.result.images))
        scores = _scores(row.mean, row.result.input_mean, with_input)
        body.append([*(_config_value(row, k) for k in keys), *scores, row.result.seconds / n])
    return Table(title, header, body)


def images_table(row: SweepRow, *, title: str = "", with_input: bool = True) -> Table:
    """Per-image scores of one setting, with the mean as the last row."""
    header = ["image", *_metric_header(with_input), "seconds"]
    body = [[r.name, *_scores(r.output, r.input, with_input), r.seconds] for r in row.result.images]
    n = max(1, len(row.result.images))
    mean = _scores(row.mean, row.result.input_mean, with_input)
    body.append(["mean", *mean, row.result.seconds / n])
    return Table(title, header, body)


def _metric_header(with_input: bool) -> list[str]:
    header = [METRIC_LABELS[k] for k in METRIC_NAMES]
    return header + [f"input {h}" for h in header] if with_input else header


def _scores(output: Metrics, inp: Metrics, with_input: bool) -> list[float]:
    values = [getattr(output, k) for k in METRIC_NAMES]
    return values + [getattr(inp, k) for k in METRIC_NAMES] if with_input else values


def per_image_csv(rows: Sequence[SweepRow]) -> Table:
    """Every image of every setting (full precision), plus a ``mean`` row per setting."""
    keys = ["weights", "model", "precision", *CONFIG_OPTIONS, "batch_size"]
    metric_cols = [*METRIC_NAMES, *(f"input_{k}" for k in METRIC_NAMES)]
    header = [*keys, "image", *metric_cols, "seconds"]
    body = []
    for row in rows:
        config = [row.config.get(k) for k in keys]
        for r in row.result.images:
            d = r.as_dict()
            body.append([*config, r.name, *(d[c] for c in metric_cols), r.seconds])
        mean = {
            **row.mean.as_dict(),
            **{f"input_{k}": v for k, v in row.result.input_mean.as_dict().items()},
        }
        n = max(1, len(row.result.images))
        body.append([*config, "mean", *(mean[c] for c in metric_cols), row.result.seconds / n])
    return Table("", header, body)


def _shown_keys(rows: Sequence[SweepRow]) -> list[str]:
    keys = [
        k
        for k in ("weights", "precision", *CONFIG_OPTIONS)
        if len({_config_value(r, k) for r in rows}) > 1
    ]
    for always in ("init", "steps"):
        if always not in keys:
            keys.append(always)
    order = ["weights", "precision", *CONFIG_OPTIONS]
    return sorted(keys, key=order.index)


def _config_value(row: SweepRow, key: str) -> Any:
    value = row.config.get(key)
    return _short(value) if key == "weights" and value is not None else value


def _value_of(setting: Setting, key: str) -> Any:
    if key == "weights":
        return setting.weights
    if key == "precision":
        return setting.precision
    return setting.overrides.get(key, "<default>")


def _short(value: Any) -> str:
    text = str(value)
    if "/" in text or "\\" in text:  # a weights path: its last part names it well enough
        text = re.split(r"[/\\]", text.rstrip("/\\"))[-1] or text
    return text


def _flag(option: str) -> str:
    return option.replace("_", "-")


def _sweepable() -> list[str]:
    return [*CONFIG_OPTIONS, *LOAD_OPTIONS]
