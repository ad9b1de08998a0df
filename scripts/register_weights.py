"""Register a model whose files ship in the package: hashes and sizes come from the files.

    python scripts/register_weights.py derain-cheb --task derain --init chebyshev \
        --autoencoder src/restorecli/data/weights/ae-k8192-d3.safetensors \
        --denoiser src/restorecli/data/weights/derain-cheb.safetensors --default \
        --description "Rain streaks and veil; trained with the Chebyshev initial state" \
        --fidelity-file src/restorecli/data/weights/fidelity.safetensors --set fidelity=1

``--set KEY=VALUE`` sets any option a registry may hold (``restorecli.config``: guide_radius,
guide_eps, fidelity, requantize). The degradation detector is a model of the task "detect":

    python scripts/register_weights.py detector --task detect --default \
        --detector src/restorecli/data/weights/detector.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from restorecli.config import registry_options
from restorecli.weights.authoring import register_bundled
from restorecli.weights.registry import builtin_registry_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--task", required=True)
    parser.add_argument("--autoencoder", type=Path)
    parser.add_argument("--denoiser", type=Path)
    parser.add_argument("--detector", type=Path, help="the detector's weights (task detect)")
    parser.add_argument("--init", default="chebyshev", help="default initial state")
    parser.add_argument("--steps", type=int, default=4, help="default diffusion steps")
    parser.add_argument(
        "--validated-steps", help="comma list of step counts `restore` allows (default: any)"
    )
    parser.add_argument("--fidelity-file", type=Path, help="the fidelity path's weights")
    parser.add_argument("--requantizer-file", type=Path, help="the VR head's weights")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a model setting"
    )
    parser.add_argument("--licence", default="Apache-2.0")
    parser.add_argument("--description", default="")
    parser.add_argument("--default", action="store_true", help="make it the task's default")
    parser.add_argument("--registry", type=Path, default=builtin_registry_path())
    args = parser.parse_args()
    detector = args.task == "detect"
    roles = ("detector",) if detector else ("autoencoder", "denoiser")
    files = {role: getattr(args, role) for role in roles}
    if None in files.values():
        parser.error(f"task {args.task} needs --{' and --'.join(roles)}")
    if args.fidelity_file:
        files["fidelity"] = args.fidelity_file
    if args.requantizer_file:
        files["requantizer"] = args.requantizer_file
    settings = {}
    for item in args.set:
        key, _, text = item.partition("=")
        _, opt, _ = registry_options()[key]
        settings[key] = opt.kind(text) if not opt.choices else text
    table = register_bundled(
        args.registry,
        args.name,
        task=args.task,
        files=files,
        default_init=None if detector else args.init,
        default_steps=None if detector else args.steps,
        licence=args.licence,
        description=args.description,
        default=args.default,
        settings=settings,
        validated_steps=[int(n) for n in (args.validated_steps or "").split(",") if n],
    )
    for entry in table["files"]:
        print(f"{args.name} {entry['role']}: {entry['bundled']} {entry['sha256']} {entry['size']}")


if __name__ == "__main__":
    main()
