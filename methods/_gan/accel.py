"""Device helpers: bf16 autocast, channels_last and torch.compile, chosen per run by the `accel` setting.

`auto` (the default) applies the requested features on CUDA only, so a CPU run stays fp32 eager NCHW; `on`
applies them on any device (on CPU: `torch.autocast("cpu", dtype=torch.bfloat16)` and inductor through the
machine's C compiler), which is how the test suite runs the GPU path without a GPU; `off` is plain fp32 eager
everywhere, the reference the others are measured against.
"""

from __future__ import annotations

import contextlib
import dataclasses
import typing
from collections.abc import Iterator

import torch
from torch import nn

from bench.methods._gan.config import AccelMode

MODES: tuple[str, ...] = typing.get_args(AccelMode)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast runs on `device`: every CPU (emulated where the ISA lacks bf16), CUDA from Ampere."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu"


@dataclasses.dataclass(frozen=True)
class Accel:
    """What a run does for speed on its device. Build it with `Accel.for_device`."""

    device: torch.device
    amp: bool = False  # bf16 autocast
    channels_last: bool = False  # NHWC memory format
    compile: bool = False  # torch.compile (inductor) of the modules that allow it
    mode: str = "auto"  # the `accel` setting that chose the three above

    @classmethod
    def for_device(cls, device: torch.device | str, *, amp: bool = True, channels_last: bool = True,
                   compile: bool = False, mode: AccelMode = "auto") -> Accel:
        """The requested features as `mode` allows them: `auto` keeps them on CUDA only, `on` everywhere (bf16
        where the device supports it), `off` nowhere."""
        if mode not in MODES:
            raise ValueError(f"unknown accel mode {mode!r}; use one of {', '.join(MODES)}")
        device = torch.device(device)
        if mode == "off" or (mode == "auto" and device.type != "cuda"):
            return cls(device, mode=mode)
        return cls(device, amp=amp and bf16_supported(device), channels_last=channels_last, compile=compile,
                   mode=mode)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on the device when enabled, else a no-op context."""
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, module: nn.Module) -> nn.Module:
        """Move `module` to the device (and to channels_last when enabled); returns the same module."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        return module

    def maybe_compile(self, module: nn.Module) -> nn.Module:
        """torch.compile(module) when enabled; the original module keeps the parameters and state_dict keys.

        Do not compile a critic used in a gradient penalty: compile does not support double backward.
        """
        return torch.compile(module) if self.compile else module

    def images(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format the modules expect."""
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    def info(self) -> dict[str, object]:
        """What ran, for run.json: the device, the three features as applied, and the setting that chose them."""
        return {"device": str(self.device), "amp": "bf16" if self.amp else "fp32",
                "channels_last": self.channels_last, "compile": self.compile, "accel": self.mode}


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode for the block and restore each one's previous mode afterwards."""
    previous = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, was_training in zip(modules, previous, strict=True):
            m.train(was_training)
