"""Device helpers: bf16 autocast, channels_last and torch.compile on CUDA; plain fp32 eager on CPU.

Every speed feature is guarded by the device type so a CPU run never touches a CUDA-only path.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class Accel:
    """What a run does for speed on its device. Build it with `Accel.for_device`."""

    device: torch.device
    amp: bool = False  # bf16 autocast (CUDA only)
    channels_last: bool = False  # NHWC memory format (CUDA only)
    compile: bool = False  # torch.compile of the modules that allow it (CUDA only)

    @classmethod
    def for_device(cls, device: torch.device | str, *, amp: bool = True, channels_last: bool = True,
                   compile: bool = False) -> Accel:
        """The requested features, kept only where the device is CUDA (CPU stays fp32, eager, NCHW)."""
        device = torch.device(device)
        cuda = device.type == "cuda"
        bf16 = cuda and amp and torch.cuda.is_bf16_supported()
        return cls(device, amp=bf16, channels_last=cuda and channels_last, compile=cuda and compile)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on CUDA when enabled, else a no-op context."""
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
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
        """What was used, for run.json."""
        return {"device": str(self.device), "amp": "bf16" if self.amp else "fp32",
                "channels_last": self.channels_last, "compile": self.compile}


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
