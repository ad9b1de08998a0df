"""The restoration pipeline: encode -> quantize -> initial state -> sample -> re-quantize -> decode.

``Restorer`` owns the loop (diffusers-style): the models, the schedule and the Chebyshev table are
its parts; frames go in as float arrays in [0, 1] and come out the same way. Large frames are cut
into overlapping tiles (``tiling``); the sampling noise is drawn once for the whole frame and
cropped per tile, so tiles agree with each other and with an untiled run; likewise a denoiser
with a frame-context branch gets one context per frame, computed from the whole frame (a tile
takes its window of the context's map).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from restorecli.config import INIT_STATES, RestoreConfig
from restorecli.device import select_device, select_dtype
from restorecli.diffusion import ResShiftSchedule, sample
from restorecli.errors import ModelNotAvailableError, SettingError, WeightsError
from restorecli.finishing import VideoSession, finishing_steps, video_session
from restorecli.init_state import code_neighbors, initial_state
from restorecli.models import LatentUNet, VQAutoencoder, load_model, read_metadata
from restorecli.models.autoencoder import EncoderFeatures
from restorecli.models.context import Context
from restorecli.models.fidelity import FidelityNet
from restorecli.models.vector_regression import VectorRegression
from restorecli.tiling import Tile, tile_weight, tiles, weight_profiles

Callback = Callable[[dict[str, Any]], None]
STAGES = ("encode", "init_state", "sample", "requantize", "decode", "guide", "strength")


class Restorer:
    """Restore frames with a VQ autoencoder and a latent residual-shift denoiser."""

    def __init__(
        self,
        autoencoder: VQAutoencoder,
        denoiser: LatentUNet,
        *,
        config: RestoreConfig | None = None,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        task: str | None = None,
        name: str | None = None,
        train_kappa: float = 1.0,
        fidelity: FidelityNet | None = None,
        requantizer: VectorRegression | None = None,
    ) -> None:
        self.device = select_device(device)
        self.dtype = select_dtype(precision, self.device)
        self.autoencoder = autoencoder.to(self.device, self.dtype).eval()
        self.autoencoder.quantizer.float()  # nearest-code search stays fp32
        self.denoiser = denoiser.to(self.device, self.dtype).eval()
        # Optional parts: the fidelity path into the decoder, the Vector Regression head.
        self.fidelity = None if fidelity is None else fidelity.to(self.device, self.dtype).eval()
        self.requantizer = (
            None if requantizer is None else requantizer.to(self.device, self.dtype).eval()
        )
        self.config = config or RestoreConfig()
        self.task = task
        self.name = name
        self.train_kappa = train_kappa
        self.trained_init: str | None = None  # the initial state the denoiser was trained with
        self.validated_steps: tuple[int, ...] = ()  # step counts `restore` allows (empty: any)
        # Pixels per latent pixel times the UNet's own multiple: frames are padded to this.
        self.multiple = autoencoder.stride * denoiser.size_multiple
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self.profile = False  # synchronise the device around stages for exact timings
        self._tables: dict[str, Any] | None = None

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] | None = None,
        *,
        task: str | None = None,
        config: RestoreConfig | None = None,
        device: str = "auto",
        precision: str = "fp32",
        offline: bool | None = None,
    ) -> Restorer:
        """Load a registered model by name, a weights folder, or the default model for ``task``.

        Without ``config``, the initial state and step count are the model's own: its registry
        entry's defaults, else the initial state it was trained with. A given ``config`` is used
        as it is.
        """
        from restorecli.weights import default_model_for_task, resolve

        if name_or_path is None:
            if task is None:
                raise ValueError("give a model name or path, or a task")
            name_or_path = default_model_for_task(task)
        resolved = resolve(name_or_path, offline=offline)
        files = resolved.files
        if "autoencoder" not in files or "denoiser" not in files:
            raise WeightsError(f"{name_or_path}: needs an autoencoder and a denoiser file")
        dev = select_device(device)
        autoencoder = load_model(files["autoencoder"], device=dev, kind="autoencoder")
        denoiser = load_model(files["denoiser"], device=dev, kind="denoiser")
        optional = {
            role: load_model(files[role], device=dev, kind=role)
            for role in ("fidelity", "requantizer")
            if role in files
        }
        meta = read_metadata(files["denoiser"])
        train = json.loads(meta.get("restorecli.training", "{}"))
        cfg = config
        if cfg is None:  # no explicit settings: the model's registered defaults apply
            cfg = RestoreConfig()
            init = resolved.default_init or train.get("init")
            if init:
                cfg = replace(cfg, init=init)
            # A file outside the registry runs at the step count its training validated.
            steps = resolved.default_steps or train.get("sample_steps")
            if steps:
                cfg = replace(cfg, steps=int(steps))
            if "fidelity" not in optional:  # nothing to weigh: say so in the reports
                cfg = replace(cfg, fidelity=0.0)
            cfg = replace(cfg, **resolved.settings)
        restorer = cls(
            autoencoder,  # type: ignore[arg-type]
            denoiser,  # type: ignore[arg-type]
            config=cfg,
            device=dev,
            precision=precision,
            task=resolved.task or task or train.get("task"),
            name=resolved.name,
            train_kappa=float(train.get("kappa", 1.0)),
            **optional,  # type: ignore[arg-type]
        )
        restorer.trained_init = train.get("init")
        restorer.validated_steps = resolved.validated_steps
        return restorer

    def check_config(self, given: Collection[str] = ()) -> None:
        """Raise ModelNotAvailableError if the config asks for a part this model lacks.

        Without a fidelity file the fidelity weight has nothing to weigh and is ignored, unless
        it is among ``given`` (the options a user set): then asking for it is an error. So is
        a given step count the model was not validated at (SettingError; ``restore eval``
        measures any)."""
        what = self.name or "this model"
        steps, allowed = self.config.steps, self.validated_steps
        if "steps" in given and allowed and steps not in allowed:
            counts = ", ".join(map(str, allowed))
            raise SettingError(
                f"--steps {steps}: {what} was validated at {counts} step(s) only; at other "
                'counts its output comes out darker and worse (docs/models.md, "Default step '
                f'count"). Use --steps {allowed[0]}, or measure others with `restore eval --steps`'
            )
        if "fidelity" in given and self.config.fidelity > 0 and self.fidelity is None:
            raise ModelNotAvailableError(
                f"{what} has no fidelity file, so --fidelity has nothing to weigh: use "
                "--fidelity 0 or a model that has one (restore models list)"
            )
        if self.config.requantize == "vr" and self.requantizer is None:
            raise ModelNotAvailableError(
                f"{what} has no requantizer file for --requantize vr: use hard or none"
            )

    # --- geometry tables ---------------------------------------------------------------------

    def tables(self, *, neighbors: bool = False) -> dict[str, Any]:
        """Chebyshev centers/radii (and, on request, code neighbours) on the device, built once."""
        if self._tables is None:
            from restorecli.geometry import load_or_build

            codebook = self.autoencoder.codebook.detach().float()
            centers, radii = load_or_build(codebook)
            self._tables = {
                "codebook": codebook,
                "centers": centers.to(self.device, torch.float32),
                "radii": radii.to(self.device, torch.float32),
            }
        if neighbors and "neighbors" not in self._tables:
            self._tables["neighbors"] = code_neighbors(self._tables["codebook"]).to(self.device)
        return self._tables

    def prepare(self) -> None:
        """Build now what the current initial state needs (geometry tables, neighbours), so
        that timing the first image does not count a one-time set-up."""
        needs = INIT_STATES[self.config.init].tables
        if needs:
            self.tables(neighbors="neighbors" in needs)

    @property
    def schedule(self) -> ResShiftSchedule:
        kappa = self.config.kappa if self.config.kappa is not None else self.train_kappa
        return ResShiftSchedule(steps=self.config.steps, kappa=kappa)

    # --- restoration -------------------------------------------------------------------------

    @contextlib.contextmanager
    def sequence(self) -> Iterator[VideoSession]:
        """A session for the consecutive frames of one video: pass it, in frame order, to
        :meth:`restore_batch` (``session=``).

        With the guided filter on and ``config.temporal`` > 0, its coefficients (the tones the
        restoration sets) carry over from frame to frame, so they do not pump; each frame keeps
        its own detail, and a cut starts afresh (``restorecli.guided.TemporalSmoother``).
        """
        yield video_session(self.config)

    def restore_array(self, image: np.ndarray, *, callback: Callback | None = None) -> np.ndarray:
        """One H x W x 3 RGB image -> the restored image, same shape and dtype.

        Floats are in [0, 1]; uint8 and uint16 (``np.asarray(Image.open(f))``) are scaled by
        their range and come back in it. For N x H x W x 3 frames use :meth:`restore_batch`.
        """
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"expected one H x W x 3 RGB image, got shape {image.shape}"
                + (" (frames: use restore_batch)" if image.ndim == 4 else "")
            )
        return self.restore_batch(image[None], callback=callback)[0]

    def restore_batch(
        self,
        frames: np.ndarray,
        *,
        callback: Callback | None = None,
        session: VideoSession | None = None,
    ) -> np.ndarray:
        """N x H x W x 3 RGB frames -> restored frames, same shape and dtype (floats in [0, 1];
        uint8 and uint16 scaled by their range, as :meth:`restore_array`). ``session``: the
        video's, from :meth:`sequence`, when the frames are consecutive frames of one."""
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected N x H x W x 3 frames, got shape {frames.shape}")
        kind = frames.dtype
        if kind in (np.uint8, np.uint16):
            peak = float(np.iinfo(kind).max)
            floats = frames.astype(np.float32) / peak
            out = self.restore_batch(floats, callback=callback, session=session)
            return np.rint(out * peak).astype(kind)
        if not np.issubdtype(kind, np.floating):
            raise ValueError(f"frames must be float in [0, 1], uint8 or uint16, not {kind}")

        def restored(chunk: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(np.ascontiguousarray(chunk, np.float32))
            y = self.restore_tensor(x.permute(0, 3, 1, 2), callback=callback, session=session)
            return y.permute(0, 2, 3, 1).cpu().numpy()

        bs = self.config.batch_size
        if frames.shape[0] <= bs:  # one pass: its result as it is, not copied into a new array
            return restored(frames)
        out = np.empty_like(frames, dtype=np.float32)
        for start in range(0, frames.shape[0], bs):
            out[start : start + bs] = restored(frames[start : start + bs])
        return out

    @torch.inference_mode()
    def restore_tensor(
        self,
        x: torch.Tensor,
        *,
        callback: Callback | None = None,
        session: VideoSession | None = None,
    ) -> torch.Tensor:
        """B x 3 x H x W tensor in [0, 1] -> restored tensor in [0, 1] on the same device.

        The chain, then the finishing steps the config turns on (``restorecli.finishing``: the
        guided filter by the input, then ``--strength``), each a function of (input, result).
        With ``config.ensemble`` = N > 1 the chain's result is the mean of N restorations: odd
        passes restore the mirror image (flipped back after), and every second pass draws the
        next seed's noise. Each pass makes its own errors, so their mean is nearer the clean
        frame.
        """
        cfg = self.config
        self.check_config()
        out = self._restore_frames(x, callback, seed_offset=0)
        for k in range(1, cfg.ensemble):
            mirrored = k % 2 == 1
            y = self._restore_frames(x.flip(-1) if mirrored else x, callback, seed_offset=k // 2)
            out += y.flip(-1) if mirrored else y
        if cfg.ensemble > 1:
            out.div_(cfg.ensemble)
        for name, step in finishing_steps(cfg, self.device):
            with self._stage(name):
                out = step(x, out, session)
        return out

    def _restore_frames(
        self, x: torch.Tensor, callback: Callback | None, seed_offset: int
    ) -> torch.Tensor:
        """One restoration of B x 3 x H x W frames in [0, 1]; noise from seed + ``seed_offset``."""
        src_device = x.device
        b, _, h, w = x.shape
        xp = self.pad(x.to(self.device, torch.float32) * 2 - 1)
        hp, wp = xp.shape[-2:]
        seed = self.config.seed
        noise = self.frame_noise(b, hp, wp, seed=None if seed is None else seed + seed_offset)
        s = self.autoencoder.stride
        context = self.frame_context(xp[..., :h, :w], (hp // s, wp // s))
        head = self.fidelity_context(xp[..., :h, :w], (hp // s, wp // s))
        size = self.config.tile
        if not size or (hp <= size and wp <= size):
            out = self._restore_padded(xp, noise, callback, context=context, head=head)
        else:
            out = self._restore_tiled(xp, noise, size, callback, context=context, head=head)
        del xp, noise  # full-frame buffers: free them before the output conversion
        # In place: a new frame-sized tensor per operation adds up on large images.
        out = out[..., :h, :w].clamp_(-1, 1).add_(1).div_(2)
        return out.to(src_device, torch.float32)

    def _restore_tiled(
        self,
        xp: torch.Tensor,
        noise: torch.Tensor,
        size: int,
        callback: Callback | None,
        context: Context | None = None,
        head: Context | None = None,
    ) -> torch.Tensor:
        b, _, hp, wp = xp.shape
        overlap = self.config.tile_overlap
        size = max(self.multiple, size // self.multiple * self.multiple)
        grid = list(tiles(hp, wp, size, overlap, align=self.multiple))
        acc = torch.zeros(b, 3, hp, wp, device=self.device)
        s = self.autoencoder.stride
        for i, t in enumerate(grid):
            crop = xp[..., t.y0 : t.y1, t.x0 : t.x1]
            # The tile's window of the frame's latents: its noise and its part of the context.
            ly0, ly1, lx0, lx1 = t.y0 // s, t.y1 // s, t.x0 // s, t.x1 // s
            tile_noise = noise[..., ly0:ly1, lx0:lx1]
            tile_context = None if context is None else context.crop(ly0, ly1, lx0, lx1)
            tile_head = None if head is None else head.crop(ly0, ly1, lx0, lx1)
            out = self._restore_padded(crop, tile_noise, None, context=tile_context, head=tile_head)
            acc[..., t.y0 : t.y1, t.x0 : t.x1] += out.float() * tile_weight(t, grid, self.device)
            if callback is not None:
                callback({"stage": "tile", "tile": i + 1, "tiles": len(grid)})
        along_h, along_w = weight_profiles(grid, hp, wp, self.device)
        return acc.div_(along_h[:, None]).div_(along_w)

    def _restore_padded(
        self,
        xp: torch.Tensor,
        noise: torch.Tensor,
        callback: Callback | None,
        context: Context | None = None,
        head: Context | None = None,
    ) -> torch.Tensor:
        """The whole chain on one padded batch (a frame or a tile), in [-1, 1]; ``context``
        and ``head``: the denoiser's and the fidelity path's views of the whole frame."""
        features, indices = self.encode_features(xp)
        y0 = self.initial_state(features.z_e, indices)
        z0 = self.sample(y0, noise, callback=callback, context=context)
        z, _ = self.requantize(z0)
        return self.decode(z, degraded=(features, xp), context=head)

    # --- the chain's steps (public so evaluation tools can inspect the latents) ---------------

    def encode(self, xp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded image batch in [-1, 1] -> (z_e, code index of every latent pixel)."""
        features, indices = self.encode_features(xp)
        return features.z_e, indices

    def encode_features(self, xp: torch.Tensor) -> tuple[EncoderFeatures, torch.Tensor]:
        """:meth:`encode` with the encoder's features, which the fidelity path reads."""
        with self._stage("encode"):
            features = self.autoencoder.features(xp.to(self.dtype))
            return features, self.autoencoder.quantizer.nearest(features.z_e)

    def initial_state(
        self,
        z_e: torch.Tensor,
        indices: torch.Tensor,
        init: str | None = None,
        *,
        lam: float | None = None,
    ) -> torch.Tensor:
        """The chain's start y0 (``init`` and ``lam`` default to the config's)."""
        init = init or self.config.init
        with self._stage("init_state"):
            needs = INIT_STATES[init].tables
            tables = self.tables(neighbors="neighbors" in needs) if needs else {}
            return initial_state(
                init,
                z_e.float(),
                indices,
                self.autoencoder.codebook.float(),
                centers=tables.get("centers"),
                radii=tables.get("radii"),
                lam=self.config.lam if lam is None else lam,
                neighbors=tables.get("neighbors"),
            ).to(self.dtype)

    def frame_context(
        self, frames: torch.Tensor, latent_hw: tuple[int, int] | None = None
    ) -> Context | None:
        """The denoiser's context for whole frames in [-1, 1] (None if it reads none);
        ``latent_hw``: the size of the padded frame's latents (default: unpadded)."""
        if not self.denoiser.uses_context:
            return None
        with self._stage("encode"):  # it reads the degraded frame, like the encoder
            return self.denoiser.encode_context(
                frames.to(self.dtype), latent_hw, stride=self.autoencoder.stride
            )

    def fidelity_context(
        self, frames: torch.Tensor, latent_hw: tuple[int, int] | None = None
    ) -> Context | None:
        """The fidelity path's view of whole frames in [-1, 1] (None if it takes none, or it
        is off); ``latent_hw`` as in :meth:`frame_context`."""
        fid = self.fidelity
        if fid is None or not fid.uses_context or self.config.fidelity == 0:
            return None
        with self._stage("encode"):
            return fid.encode_context(
                frames.to(self.dtype), latent_hw, stride=self.autoencoder.stride
            )

    def sample(
        self,
        y0: torch.Tensor,
        noise: torch.Tensor,
        *,
        callback: Callback | None = None,
        context: Context | None = None,
    ) -> torch.Tensor:
        """Run the residual-shift chain from y0 with the given noise (T x B x D x h x w);
        ``context``: :meth:`frame_context` of the whole frames, for denoisers that read it."""
        model = self.denoiser
        if context is not None:
            model = functools.partial(self.denoiser, context=context)  # type: ignore[assignment]
        with self._stage("sample"):
            return sample(model, y0, self.schedule, noise=noise, callback=callback)

    def requantize(
        self, z0: torch.Tensor, mode: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The chain's output meets the codebook (``mode`` defaults to the config's): ``hard``
        snaps it to the nearest codes, ``vr`` weighs nearby codes (the requantizer head),
        ``none`` keeps it. Returns (latent to decode, index of each pixel's nearest code)."""
        mode = mode or self.config.requantize
        with self._stage("requantize"):
            quantizer = self.autoencoder.quantizer
            indices = quantizer.nearest(z0)
            if mode == "hard":
                return quantizer.lookup(indices).to(self.dtype), indices
            if mode == "vr":
                if self.requantizer is None:
                    raise ModelNotAvailableError("this model has no requantizer file")
                return self.requantizer(z0, self.autoencoder.codebook).to(self.dtype), indices
            return z0, indices

    def decode(
        self,
        z: torch.Tensor,
        degraded: tuple[EncoderFeatures, torch.Tensor] | None = None,
        context: Context | None = None,
    ) -> torch.Tensor:
        """Latents -> padded image batch in [-1, 1] (float32, not clamped). With ``degraded``
        (the encoder's features of the degraded batch and the batch itself) and a fidelity
        file, the decoder also takes ``config.fidelity`` of what the input kept intact."""
        weight = self.config.fidelity
        with self._stage("decode"):
            if degraded is None or self.fidelity is None or weight == 0:
                return self.autoencoder.decode(z).float()
            features, xp = degraded
            decoder = self.autoencoder.decoder
            return self.fidelity.decode(
                decoder, z, features, xp.to(z.dtype), weight, context=context
            ).float()

    # --- helpers -----------------------------------------------------------------------------

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Pad bottom/right to a multiple of ``self.multiple`` (reflect where it can)."""
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if not (ph or pw):
            return x
        # Reflection keeps image statistics at the border; it needs the pad < the size.
        mode = "reflect" if ph < h and pw < w else "replicate"
        return F.pad(x, (0, pw, 0, ph), mode=mode)

    def frame_noise(self, b: int, hp: int, wp: int, *, seed: int | None = None) -> torch.Tensor:
        """All sampling noise for a padded frame: T x B x D x h x w, from the seed.

        Every frame of a batch gets the same noise, so a frame's result does not depend on the
        batch it was processed in, and consecutive video frames do not flicker from noise.
        """
        s = self.autoencoder.stride
        shape = (self.config.steps, 1, self.autoencoder.config.latent_dim, hp // s, wp // s)
        seed = self.config.seed if seed is None else seed
        gen = torch.Generator(device="cpu")
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        # Drawn on the CPU so a seed gives the same result on every device.
        noise = torch.randn(shape, generator=gen).to(self.device)
        return noise.expand(-1, b, -1, -1, -1)

    def _stage(self, name: str) -> _StageTimer:
        return _StageTimer(self, name)


class _StageTimer:
    def __init__(self, owner: Restorer, name: str) -> None:
        self.owner, self.name = owner, name

    def __enter__(self) -> None:
        self._sync()
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._sync()
        self.owner.stage_seconds[self.name] += time.perf_counter() - self.start

    def _sync(self) -> None:
        if self.owner.profile and self.owner.device.type == "cuda":
            torch.cuda.synchronize(self.owner.device)


def save_pretrained_folder(
    folder: str | os.PathLike[str],
    autoencoder: VQAutoencoder,
    denoiser: LatentUNet,
    *,
    fidelity: FidelityNet | None = None,
    requantizer: VectorRegression | None = None,
) -> Path:
    """Write a folder usable as ``Restorer.from_pretrained(folder)`` (tests and exports)."""
    from restorecli.models import save_model

    folder = Path(folder)
    save_model(autoencoder, folder / "autoencoder.safetensors", inference_only=True)
    save_model(denoiser, folder / "denoiser.safetensors")
    for name, model in (("fidelity", fidelity), ("requantizer", requantizer)):
        if model is not None:
            save_model(model, folder / f"{name}.safetensors")
    return folder


__all__ = ["STAGES", "RestoreConfig", "Restorer", "Tile", "save_pretrained_folder"]
