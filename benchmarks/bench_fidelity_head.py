"""Time of the fidelity decoding against the plain decoder on one tile, per head layout.

    python benchmarks/bench_fidelity_head.py [--size 512] [--repeats 7] [--threads 2]

The shipped autoencoder's decoder decodes the latent of one random SIZE x SIZE tile alone, then
through each fidelity head layout below (random weights: a layout's time does not depend on its
values). Printed per layout: the median and the second-best of REPEATS runs, in milliseconds,
after two warm-up runs. "shipped before" is the derain/dehaze head replaced on 2026-12-06,
"shipped" the one that replaced it, "denoise/desnow" their four-block heads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import restorecli
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import restorecli

import torch

from restorecli.models import load_model
from restorecli.models.fidelity import FidelityConfig, FidelityNet

AUTOENCODER = Path(restorecli.__file__).parent / "data" / "weights" / "ae-k8192-d3.safetensors"
CONTEXT = {"context": 16, "context_grid": 4}
LAYOUTS = {
    "shipped before (3x3, 3x3, 1 block)": FidelityConfig(**CONTEXT),
    "shipped (1x1, 1x1, 1 block)": FidelityConfig(**CONTEXT, quarter_kernel=1, head_in_kernel=1),
    "1x1, 1x1, no block": FidelityConfig(
        **CONTEXT, quarter_kernel=1, head_in_kernel=1, head_blocks=0
    ),
    "1x1, 1x1, 1 block, 16 wide": FidelityConfig(
        **CONTEXT, quarter_kernel=1, head_in_kernel=1, head_channels=16
    ),
    "denoise/desnow (3x3, 3x3, 4 blocks)": FidelityConfig(**CONTEXT, head_blocks=4),
}


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median, second best) of ``repeats`` runs of ``fn`` in ms, after two warm-up runs."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return times[len(times) // 2], times[min(1, len(times) - 1)]


@torch.inference_mode()
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ae = load_model(AUTOENCODER, kind="autoencoder").eval()
    x = torch.rand(1, 3, args.size, args.size) * 2 - 1
    feats = ae.features(x)
    z = ae.quantize(feats.z_e)[0]
    print(f"{args.size}x{args.size} tile, {args.threads} threads, ms (median, second best)")
    median, best = timed(lambda: ae.decoder(z), args.repeats)
    print(f"| plain decoder | {median:.0f} | {best:.0f} |")
    for name, cfg in LAYOUTS.items():
        net = FidelityNet(cfg).eval()
        head = net.encode_context(x, z.shape[-2:])
        median, best = timed(
            lambda net=net, head=head: net.decode(ae.decoder, z, feats, x, 1.0, head),
            args.repeats,
        )
        print(f"| {name} | {median:.0f} | {best:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
