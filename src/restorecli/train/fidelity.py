"""Train the fidelity path (``models.fidelity``) and the Vector Regression head together.

Everything the shipped pipeline already has stays frozen: encoder, codebook, decoder and each
task's denoiser. Per step: clean views from the corpus, degraded for one task (round robin over
``tasks``) at a severity drawn over the whole range, a share left clean (clean in, clean out);
the frozen chain restores each crop exactly as inference does (initial state, the denoiser's
frame context from the whole view, ``sample_steps`` steps, hard re-quantization). Then:

- the fidelity decoder decodes the re-quantized latent with skips from the degraded crop and is
  scored against the clean crop (per-crop log-MSE, so a nearly clean crop weighs as much as a
  ruined one: keeping clean photos intact is half the job);
- the VR head re-quantizes the chain's continuous output and is scored against the clean crop's
  encoder output z_e in latent space.

The two share the expensive frozen forward pass; their losses touch disjoint parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from restorecli.degrade import TASKS, degrade
from restorecli.diffusion import ResShiftSchedule, sample
from restorecli.init_state import initial_state
from restorecli.models import LatentUNet, VQAutoencoder, load_model, read_metadata, save_model
from restorecli.models.autoencoder import EncoderFeatures
from restorecli.models.fidelity import FidelityConfig, FidelityNet
from restorecli.models.vector_regression import VectorRegression, VRConfig
from restorecli.train.checkpoint import load_checkpoint
from restorecli.train.data import CropConfig, PhotoCrops
from restorecli.train.denoiser import degraded_views_and_crops, regression_loss
from restorecli.train.loop import check_counts, psnr, to_tensor
from restorecli.train.run import TrainingRun
from restorecli.weights import sha256_file

# Floor of a crop's MSE (in [-1, 1]) inside the log: 1e-5 is 56 dB, past any target here.
LOG_FLOOR = 1e-5


@dataclass
class FidelityTrainConfig:
    """Options of one fidelity run (saved as ``OUT/config.json``)."""

    data: str
    out: str
    autoencoder: str
    denoisers: tuple[str, ...]  # one weights file per task, in the order of ``tasks``
    tasks: tuple[str, ...] = ("derain", "dehaze")
    init: str = "chebyshev"
    sample_steps: int = 1
    severity: tuple[float, float] = (0.0, 1.0)
    clean_fraction: float = 0.2
    camera_fraction: float = 0.2
    view: int = 512
    steps: int = 12000
    batch_size: int = 8
    crop: CropConfig = field(default_factory=lambda: CropConfig(size=128))
    model: FidelityConfig = field(default_factory=FidelityConfig)
    vr: VRConfig = field(default_factory=VRConfig)
    vr_weight: float = 1.0
    # A checkpoint of an earlier fidelity run to start from (its EMA weights); layers that
    # grew input channels (a frame context added) keep the old ones and start the new at zero;
    # a 3x3 kernel made 1x1 starts as the sum of its taps.
    init_weights: str | None = None
    # Start the head's mask at "keep the input" (m = 0.98) instead of halfway: for a
    # degradation the latent path cannot undo (blur), the head then begins as the identity on
    # the input and learns a correction of it, never starting below the input.
    start_as_input: bool = False
    # Floor of each crop's MSE (in [-1, 1]) inside the pixel loss's log. Near 0 a clean crop's
    # least error costs a lot: that keeps clean photos exact, and for blur it also holds the
    # head at the identity, since any sharpening is first an error on the sharp crops.
    # 4e-4 (40 dB) lets a blur head learn.
    log_floor: float = LOG_FLOOR
    lr: float = 5e-4
    ema_decay: float = 0.999
    log_every: int = 25
    val_every: int = 500
    ckpt_every: int = 250
    val_images: int = 6
    val_size: int = 256
    val_severities: tuple[float, ...] = (0.0, 0.3, 0.6, 0.9)
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        self.denoisers = tuple(self.denoisers)
        self.severity = tuple(float(v) for v in self.severity)  # type: ignore[assignment]
        self.val_severities = tuple(float(v) for v in self.val_severities)
        for task in self.tasks:
            if task not in TASKS:
                raise ValueError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
        if len(self.denoisers) != len(self.tasks):
            raise ValueError("give one denoiser file per task")
        if not 0.0 <= self.clean_fraction < 1.0:
            raise ValueError(f"clean_fraction must be in [0, 1), got {self.clean_fraction}")
        if self.view and self.view < self.crop.size:
            raise ValueError(f"view must be 0 or at least the crop size ({self.crop.size})")
        check_counts(self, "steps", "batch_size", "log_every", "val_every", "ckpt_every")
        check_counts(self, "val_images", "val_size", "sample_steps")
        if not self.log_floor > 0:
            raise ValueError(f"log_floor must be positive, got {self.log_floor}")


def config_from_run(run: str | Path) -> FidelityTrainConfig:
    """The config a run was trained with, from its ``config.json``."""
    raw = json.loads((Path(run) / "config.json").read_text())
    raw["crop"] = CropConfig(**raw["crop"])
    raw["model"] = FidelityConfig(**raw["model"])
    raw["vr"] = VRConfig(**raw["vr"])
    known = {f.name for f in dataclasses.fields(FidelityTrainConfig)}
    return FidelityTrainConfig(**{k: v for k, v in raw.items() if k in known})


class FidelityBundle(nn.Module):
    """The two trained parts, checkpointed together."""

    def __init__(self, model: FidelityConfig, vr: VRConfig) -> None:
        super().__init__()
        self.fidelity = FidelityNet(model)
        self.vr = VectorRegression(vr)


@dataclass
class FrozenChain:
    """The shipped pipeline up to the re-quantized latent, for one task's denoiser."""

    ae: VQAutoencoder
    denoiser: LatentUNet
    schedule: ResShiftSchedule
    init: str
    centers: torch.Tensor | None
    radii: torch.Tensor | None

    @torch.no_grad()
    def __call__(
        self, degraded: torch.Tensor, views: torch.Tensor, origins: torch.Tensor
    ) -> tuple[EncoderFeatures, torch.Tensor]:
        """Degraded crops (and the views they were cut from, at ``origins``) -> (encoder
        features of the crops, the chain's continuous output z0)."""
        feats = self.ae.features(degraded)
        codebook = self.ae.codebook.float()
        idx = self.ae.quantizer.nearest(feats.z_e)
        y0 = initial_state(
            self.init, feats.z_e, idx, codebook, centers=self.centers, radii=self.radii
        )
        model = self.denoiser
        if model.uses_context:
            context = model.encode_context(views, y0.shape[-2:], origin=origins)
            model = functools.partial(self.denoiser, context=context)  # type: ignore[assignment]
        return feats, sample(model, y0, self.schedule)


def log_mse(pred: torch.Tensor, target: torch.Tensor, floor: float) -> torch.Tensor:
    """Mean over crops of log(MSE of the crop): a PSNR loss (the denoisers' ``log-mse``)."""
    return regression_loss(pred, target, "log-mse", floor)


def build_chains(cfg: FidelityTrainConfig, device: torch.device) -> tuple[VQAutoencoder, dict]:
    ae: VQAutoencoder = load_model(cfg.autoencoder, device=device, kind="autoencoder")  # type: ignore[assignment]
    ae.requires_grad_(False)
    centers = radii = None
    if cfg.init in ("chebyshev", "auto"):
        from restorecli.geometry import load_or_build

        centers, radii = load_or_build(ae.codebook.float())
    chains = {}
    for task, path in zip(cfg.tasks, cfg.denoisers, strict=True):
        net: LatentUNet = load_model(path, device=device, kind="denoiser")  # type: ignore[assignment]
        net.requires_grad_(False)
        training = json.loads(read_metadata(path).get("restorecli.training", "{}"))
        kappa = float(training.get("kappa", 1.0))
        schedule = ResShiftSchedule(steps=cfg.sample_steps, kappa=kappa)
        chains[task] = FrozenChain(ae, net, schedule, cfg.init, centers, radii)
    return ae, chains


def validation_sets(
    cfg: FidelityTrainConfig, held_out: PhotoCrops
) -> dict[str, list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]]:
    """Per task: (severity, degraded view, clean centre crop, centre origin) of held-out photos."""
    side = max(cfg.val_size, cfg.view)
    views = held_out.fixed_crops(cfg.val_images, side, seed=cfg.seed)
    off = (side - cfg.val_size) // 2
    sets = {}
    for t, task in enumerate(cfg.tasks):
        items = []
        for s, severity in enumerate(cfg.val_severities):
            for i, clean in enumerate(views):
                seed = 1000 + 100 * t + 10 * s + i
                degraded = (
                    clean if severity == 0 else degrade(task, clean, seed=seed, severity=severity)
                )
                crop = clean[off : off + cfg.val_size, off : off + cfg.val_size]
                items.append((severity, degraded, crop, np.array([off, off])))
        sets[task] = items
    return sets


@torch.no_grad()
def validate(
    cfg: FidelityTrainConfig,
    bundle: FidelityBundle,
    ae: VQAutoencoder,
    chains: dict,
    sets: dict,
    device: torch.device,
) -> dict[str, float]:
    """PSNR of fidelity + hard, fidelity + VR, and plain decoding, per task and severity."""
    bundle.eval()
    out: dict[str, float] = {}
    all_fid = []
    n = cfg.val_size
    for task, items in sets.items():
        for severity in cfg.val_severities:
            rows = [it for it in items if it[0] == severity]
            views = to_tensor(np.stack([r[1] for r in rows]), device)
            clean = to_tensor(np.stack([r[2] for r in rows]), device)
            origins = torch.from_numpy(np.stack([r[3] for r in rows]))
            o = int(rows[0][3][0])
            degraded = views[..., o : o + n, o : o + n]
            feats, z0 = chains[task](degraded, views, origins)
            z_q = ae.quantize(z0)[0]
            z_vr = bundle.vr(z0, ae.codebook)
            head = None
            if cfg.model.context:
                head = bundle.fidelity.encode_context(views, z_q.shape[-2:], origin=origins)
            decoded = {
                "plain": ae.decode(z_q),
                "fid": bundle.fidelity.decode(ae.decoder, z_q, feats, degraded, context=head),
                "fidvr": bundle.fidelity.decode(ae.decoder, z_vr, feats, degraded, context=head),
                "input": degraded,
            }
            tag = f"{task}_s{severity:g}"
            for name, img in decoded.items():
                value = psnr(img.clamp(-1, 1).add(1).div(2), clean.add(1).div(2))
                out[f"val_{name}_{tag}"] = value
            all_fid.append(out[f"val_fid_{tag}"])
    out["val_psnr"] = float(np.mean(all_fid))
    return out


def train_fidelity(cfg: FidelityTrainConfig, *, resume: bool = True) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    run = TrainingRun(cfg, "fidelity " + "+".join(cfg.tasks))
    device = run.device
    ae, chains = build_chains(cfg, device)
    train_set = PhotoCrops(cfg.data, "train", cfg.crop)
    sets = validation_sets(cfg, PhotoCrops(cfg.data, "val", cfg.crop))
    run.console.log(f"{len(train_set.paths)} training photos; tasks {', '.join(cfg.tasks)}")
    model = FidelityBundle(cfg.model, cfg.vr)
    if cfg.start_as_input:
        keep_input(model.fidelity)
    if cfg.init_weights:  # a resumed checkpoint, loaded by attach, overrides this start
        start_from(model, Path(cfg.init_weights))
        run.extra_info["init_weights_sha256"] = sha256_file(cfg.init_weights)
    bundle = run.attach(model, resume=resume)
    run.extra_info["autoencoder_sha256"] = sha256_file(cfg.autoencoder)
    run.extra_info["denoisers_sha256"] = [sha256_file(p) for p in cfg.denoisers]
    codebook = ae.codebook.float()

    for step in run.steps():
        task = cfg.tasks[step % len(cfg.tasks)]
        views = train_set.batch(cfg.batch_size, run.rng, cfg.view)
        clean_np, degraded_np, views_np, origins = degraded_views_and_crops(
            task,
            views,
            cfg.crop.size,
            cfg.severity,
            run.rng,
            cfg.clean_fraction,
            cfg.camera_fraction,
        )
        with torch.no_grad():
            clean, degraded = to_tensor(clean_np, device), to_tensor(degraded_np, device)
            views_t = to_tensor(views_np, device)
            feats, z0 = chains[task](degraded, views_t, torch.from_numpy(origins))
            z_q = ae.quantize(z0)[0]
            target_latent = ae.encode(clean)
        head = None
        if cfg.model.context:  # the branch trains inside this step, from the whole views
            latent_hw = z_q.shape[-2:]
            head = bundle.fidelity.encode_context(
                views_t, latent_hw, origin=torch.from_numpy(origins)
            )
        restored = bundle.fidelity.decode(ae.decoder, z_q, feats, degraded, context=head)
        pixel_loss = log_mse(restored, clean, cfg.log_floor)
        latent_loss = log_mse(bundle.vr(z0, codebook), target_latent, LOG_FLOOR)
        loss = pixel_loss + cfg.vr_weight * latent_loss
        run.update(loss)
        run.log_step(
            float(loss.detach()),
            pixel_loss=float(pixel_loss.detach()),
            latent_loss=float(latent_loss.detach()),
        )
        if run.is_main and run.due(cfg.val_every):
            run.record(validate(cfg, run.ema, ae, chains, sets, device), best="val_psnr")
        if run.due(cfg.ckpt_every):
            run.save()
    return run.close()


# Mask logit of a head that starts by keeping the input: sigmoid(4) = 0.98, still trainable.
KEEP_INPUT_LOGIT = 4.0


def keep_input(net: FidelityNet) -> None:
    """Make a freshly built head output the degraded input itself (mask logits at
    ``KEEP_INPUT_LOGIT``, correction zero): training starts at the input's own score."""
    with torch.no_grad():
        masks = net.head_out.out_channels // 2  # mask logits first, then the correction
        net.head_out.bias[:masks].fill_(KEEP_INPUT_LOGIT)


def start_from(model: nn.Module, checkpoint: Path) -> list[str]:
    """Copy a checkpoint's EMA weights into ``model`` where they fit; a weight with more input
    channels here gets the old ones first and zeros after, a 1x1 kernel where the checkpoint
    has a 3x3 one gets the sum of its taps (the same response to smooth input). Returns the
    names left as built."""
    from safetensors import safe_open

    with safe_open(str(checkpoint), framework="pt") as f:
        old = {k[4:]: f.get_tensor(k) for k in f.keys() if k.startswith("ema.")}  # noqa: SIM118
    fresh = []
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            source = old.get(name)
            if source is not None and source.dim() == 4 and tensor.shape[2:] == (1, 1):
                source = source.sum(dim=(2, 3), keepdim=True)
            if source is not None and source.shape == tensor.shape:
                tensor.copy_(source)
            elif (
                source is not None
                and source.dim() == 4
                and source.shape[0] == tensor.shape[0]
                and source.shape[1] < tensor.shape[1]
            ):
                tensor.zero_()
                tensor[:, : source.shape[1]] = source
            else:
                fresh.append(name)
    return fresh


def export_fidelity(checkpoint: Path, folder: Path) -> tuple[Path, Path]:
    """Write the EMA weights as fp16 ``fidelity.safetensors`` and ``requantizer.safetensors``."""
    cfg = config_from_run(checkpoint.parent)
    model = FidelityBundle(cfg.model, cfg.vr)
    ema = FidelityBundle(cfg.model, cfg.vr)
    info = load_checkpoint(checkpoint, model=model, ema=ema, optimizer=None)
    meta = {"restorecli.training": json.dumps({"tasks": list(cfg.tasks), **info})}
    folder = Path(folder)
    half = torch.float16
    return (
        save_model(ema.fidelity, folder / "fidelity.safetensors", dtype=half, metadata=meta),
        save_model(ema.vr, folder / "requantizer.safetensors", dtype=half, metadata=meta),
    )
