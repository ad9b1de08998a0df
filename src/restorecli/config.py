"""Every restore option, declared once.

A field of :class:`RestoreConfig` carries, beside its default, an :class:`Option`: its help, its
range or choices, whether the command line offers it, whether ``restore eval`` sweeps it, and the
registry key under which a model sets its own default. The command line (``cli.options``), the
eval sweeps (``evaluate.sweep``), the registry (``weights.registry``) and the checks below all
read these declarations, so adding an option is one field here plus its use in the pipeline.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# The restore tasks: their command names and what each removes (restorecli.degrade makes their
# training data under the same names).
TASKS: dict[str, str] = {
    "derain": "Remove rain streaks from a photo or video.",
    "dehaze": "Remove haze and fog from a photo or video.",
    "desnow": "Remove falling snow from a photo or video.",
    "deraindrop": "Remove raindrops on the lens or window from a photo or video.",
    "denoise": "Remove sensor noise from a photo or video.",
    "deblur": "Remove motion and focus blur from a photo or video.",
}
# What `restore degrade` makes: each task's degradation, and JPEG artefacts (named here so the
# command line lists them without importing OpenCV; tests hold restorecli.degrade.TASKS to it).
DEGRADATIONS = (*TASKS, "jpeg")
# The order `restore auto` runs the tasks it detects in: the reverse of how a photo gets them
# (the scene's haze, snow and rain, then drops on the glass, the lens and the shake, the sensor).
AUTO_ORDER = ("denoise", "deblur", "deraindrop", "derain", "desnow", "dehaze")
# The detector's confidence at which `restore auto` runs a task.
DETECT_THRESHOLD = 0.5


@dataclass(frozen=True)
class InitState:
    """A latent initial state (seed 000) and the codebook tables it needs built."""

    name: str
    tables: tuple[str, ...]  # "centers": Chebyshev centres and radii; "neighbors": cell facets
    help: str


INIT_STATES: dict[str, InitState] = {
    s.name: s
    for s in (
        InitState("zq", (), "the quantized latent c_k (the original VQ-LDM)"),
        InitState("ze", (), "the encoder output before quantization"),
        InitState("lerp", (), "lam * z_e + (1 - lam) * z_q, inside the cell (Theorem 1)"),
        InitState("chebyshev", ("centers",), "the Chebyshev centre of the code's Voronoi cell"),
        InitState("auto", ("centers", "neighbors"), "a per-pixel lam from the cell's geometry"),
    )
}
INIT_MODES = tuple(INIT_STATES)
REQUANTIZE_MODES = ("hard", "vr", "none")


@dataclass(frozen=True)
class Option:
    """How one :class:`RestoreConfig` field is offered, checked and registered."""

    help: str
    kind: type = float  # the value's type (the field may also be None where said)
    min: float | None = None  # inclusive bounds
    max: float | None = None
    above: float | None = None  # exclusive bounds
    below: float | None = None
    choices: tuple[str, ...] = ()
    default_text: str = ""  # what "(default: ...)" says; empty: the field's default
    registry: str | None = None  # a model's registry key for its own default
    cli: bool = True  # a flag of `restore TASK` and `restore batch`
    sweep: bool = True  # `restore eval` takes a comma list of it
    optional: bool = False  # None is a value too (seed: fresh noise; kappa: the trained one)
    none_value: Any = None  # the command-line value that stands for None (seed: -1)

    def describe(self, default: Any) -> str:
        """The help with its default, as the command line shows it."""
        shown = f"{default:g}" if isinstance(default, float) else default
        return f"{self.help} (default: {self.default_text or shown})."


def option(default: Any, **spec: Any) -> Any:
    """A dataclass field with its :class:`Option`."""
    return field(default=default, metadata={"option": Option(**spec)})


@dataclass
class RestoreConfig:
    """Inference options: the flags of ``restore TASK``, the Python API's settings."""

    init: str = option(
        "chebyshev",
        kind=str,
        choices=INIT_MODES,
        help="Latent initial state",
        default_text="the model's, else chebyshev",
        registry="default_init",
    )
    lam: float = option(0.5, help="Weight of z_e for --init lerp", min=0.0, max=1.0)
    steps: int = option(
        4,
        kind=int,
        min=1,
        help="Diffusion steps",
        default_text="the model's",
        registry="default_steps",
    )
    ensemble: int = option(
        1,
        kind=int,
        min=1,
        max=8,
        help="Average N restorations: the image, its mirror image, then both again with "
        "other noise. N times slower, more faithful",
    )
    seed: int | None = option(
        0, kind=int, help="Sampling seed; -1 for a random one", optional=True, none_value=-1
    )
    kappa: float | None = option(
        None,
        above=0.0,
        help="Noise scale",
        optional=True,
        default_text="the value the denoiser was trained with",
        cli=False,
    )
    guide_radius: int = option(
        0,
        kind=int,
        min=0,
        help="Finish with a guided filter of this radius in pixels that keeps the restored "
        "tones on the input's own fine detail; 0 = off",
        default_text="the model's",
        registry="guide_radius",
    )
    guide_eps: float = option(
        1e-4,
        above=0.0,
        help="The guided filter's damping where the input is flat",
        default_text="the model's, 1e-4",
        registry="guide_eps",
    )
    strength: float = option(
        1.0,
        above=0.0,
        max=1.0,
        help="Share of the change to apply: 1 = all of it, 0.5 = halfway between the input "
        "and the restoration, e.g. to keep some atmosphere in a dehazed view",
    )
    fidelity: float = option(
        1.0,
        min=0.0,
        max=1.0,
        help="Weight of the degraded frame's own detail in the decoder (the fidelity path): "
        "1 keeps what the degradation left intact, 0 decodes the restored latent alone, as "
        "the paper's pipeline; needs a model with a fidelity file",
        default_text="the model's",
        registry="fidelity",
    )
    requantize: str = option(
        "hard",
        kind=str,
        choices=REQUANTIZE_MODES,
        help="How the chain's output meets the codebook: hard = nearest code (the paper's), "
        "vr = learned weights over nearby codes (needs a requantizer file), none = decode it "
        "as it is",
        default_text="the model's, else hard",
        registry="requantize",
    )
    temporal: float = option(
        0.8,
        min=0.0,
        below=1.0,
        help="Videos: weight of the past frames in the guided filter's tones, so they do not "
        "pump from frame to frame; 0 = each frame alone",
        sweep=False,
    )
    tile: int = option(
        512, kind=int, min=0, help="Largest tile in pixels for large frames, 0 = never tile"
    )
    tile_overlap: int = option(128, kind=int, min=0, help="Least overlap between tiles in pixels")
    batch_size: int = option(4, kind=int, min=1, help="Video frames per forward pass", sweep=False)

    def __post_init__(self) -> None:
        for f, opt in declared():
            check_value(f.name, getattr(self, f.name), opt, f.default)
        if self.tile and self.tile < 64:
            raise ValueError(f"--tile must be 0 (off) or >= 64 pixels, got {self.tile}")
        if self.tile and self.tile_overlap > self.tile // 2:
            raise ValueError("--tile-overlap must be >= 0 and at most half of --tile")


def flag(name: str) -> str:
    """The command-line flag of a field: ``tile_overlap`` -> ``--tile-overlap``."""
    return "--" + name.replace("_", "-")


def declared() -> list[tuple[dataclasses.Field, Option]]:
    """Every option of :class:`RestoreConfig` with its declaration, in field order."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(RestoreConfig)]


def declaration(name: str) -> Option:
    """The :class:`Option` of field ``name`` (KeyError if there is none)."""
    for f, opt in declared():
        if f.name == name:
            return opt
    raise KeyError(name)


def check_value(name: str, value: Any, opt: Option, default: Any = None) -> None:
    """Raise ValueError (naming the flag) unless ``value`` is valid for ``opt``."""
    if value is None and opt.optional:
        return
    where = flag(name)
    if opt.choices:
        if value not in opt.choices:
            raise ValueError(f"unknown {where} {value!r}: use one of {', '.join(opt.choices)}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    if opt.kind is int and value != int(value):
        raise ValueError(f"{where} must be an integer, got {value!r}")
    bounds = []
    if opt.min is not None and not value >= opt.min:
        bounds.append(f">= {opt.min:g}")
    if opt.above is not None and not value > opt.above:
        bounds.append(f"> {opt.above:g}")
    if opt.max is not None and not value <= opt.max:
        bounds.append(f"<= {opt.max:g}")
    if opt.below is not None and not value < opt.below:
        bounds.append(f"< {opt.below:g}")
    if bounds:
        raise ValueError(f"{where} must be {' and '.join(bounds)}, got {value}")


def sweep_options() -> dict[str, type]:
    """Option -> value type of the options ``restore eval`` sweeps, in declaration order."""
    return {f.name: opt.kind for f, opt in declared() if opt.sweep}


def registry_options() -> dict[str, tuple[str, Option, Any]]:
    """Registry key -> (field name, declaration, field default) for options a model sets."""
    return {
        opt.registry: (f.name, opt, f.default) for f, opt in declared() if opt.registry is not None
    }


__all__ = [
    "AUTO_ORDER",
    "DEGRADATIONS",
    "DETECT_THRESHOLD",
    "INIT_MODES",
    "INIT_STATES",
    "REQUANTIZE_MODES",
    "TASKS",
    "InitState",
    "Option",
    "RestoreConfig",
    "check_value",
    "declaration",
    "declared",
    "flag",
    "option",
    "registry_options",
    "sweep_options",
]
