"""Device and precision selection: auto finds what exists, unavailable choices fail clearly."""

from __future__ import annotations

import pytest
import torch

from restorecli.device import select_device, select_dtype
from restorecli.errors import DeviceError

no_accelerator = pytest.mark.skipif(
    torch.cuda.is_available()
    or (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()),
    reason="an accelerator is available here",
)
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
no_mps = pytest.mark.skipif(
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    reason="MPS is available here",
)
CPU = torch.device("cpu")


@no_accelerator
@pytest.mark.parametrize("name", ["auto", None])
def test_auto_is_the_cpu_without_accelerators(name: str | None) -> None:
    assert select_device(name) == CPU


@pytest.mark.parametrize("name", ["cpu", "cpu:0", CPU])
def test_cpu_works(name: str | torch.device) -> None:
    assert select_device(name).type == "cpu"


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3", torch.device("cuda")])
def test_cuda_without_cuda_is_a_device_error(name: str | torch.device) -> None:
    with pytest.raises(DeviceError, match="CUDA"):
        select_device(name)


@no_mps
def test_mps_without_mps_is_a_device_error() -> None:
    with pytest.raises(DeviceError, match="MPS"):
        select_device("mps")


@pytest.mark.parametrize("name", ["gpu", "", "cuda:x", "tpu:0"])
def test_unknown_device_names_are_device_errors(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        select_device(name)


def test_cpu_precisions() -> None:
    assert select_dtype("fp32", CPU) is torch.float32
    assert select_dtype("auto", CPU) is torch.float32
    for precision in ("fp16", "bf16"):
        with pytest.raises(DeviceError, match="--precision fp32"):
            select_dtype(precision, CPU)


@pytest.mark.parametrize("precision", ["fp64", "FP32", "half", ""])
def test_unknown_precisions_are_device_errors(precision: str) -> None:
    with pytest.raises(DeviceError, match="unknown precision"):
        select_dtype(precision, CPU)
