"""Register a model whose files ship in the package: hashes and sizes come from the files.

    python scripts/register_weights.py derain-cheb --task derain --init chebyshev \
        --autoencoder src/restorecli/data/weights/ae-k8192-d3.safetensors \
        --denoiser src/restorecli/data/weights/derain-cheb.safetensors --default \
        --description "Rain streaks and veil; trained with the Chebyshev initial state"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from restorecli.weights.authoring import register_bundled
from restorecli.weights.registry import builtin_registry_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--task", required=True)
    parser.add_argument("--autoencoder", type=Path, required=True)
    parser.add_argument("--denoiser", type=Path, required=True)
    parser.add_argument("--init", default="chebyshev", help="default initial state")
    parser.add_argument("--steps", type=int, default=4, help="default diffusion steps")
    parser.add_argument(
        "--guide-radius", type=int, default=0, help="guided filter by the input, 0 = off"
    )
    parser.add_argument("--guide-eps", type=float, default=1e-4, help="its damping")
    parser.add_argument("--licence", default="Apache-2.0")
    parser.add_argument("--description", default="")
    parser.add_argument("--default", action="store_true", help="make it the task's default")
    parser.add_argument("--registry", type=Path, default=builtin_registry_path())
    args = parser.parse_args()
    table = register_bundled(
        args.registry,
        args.name,
        task=args.task,
        files={"autoencoder": args.autoencoder, "denoiser": args.denoiser},
        default_init=args.init,
        default_steps=args.steps,
        licence=args.licence,
        description=args.description,
        default=args.default,
        guide_radius=args.guide_radius,
        guide_eps=args.guide_eps,
    )
    for entry in table["files"]:
        print(f"{args.name} {entry['role']}: {entry['bundled']} {entry['sha256']} {entry['size']}")


if __name__ == "__main__":
    main()
