"""benchmarks.flops counts what the textbook formulas say for single layers (forward and backward), counts through
the WGAN-GP gradient penalty (torch.autograd.grad with create_graph), and finds the bf16 peaks by device name."""

from __future__ import annotations

import pytest
import torch

from benchmarks.flops import PEAK_ENV, StepCall, count_flops, lookup_peak, markdown, measure, peak_tflops


def test_linear_forward_and_backward_match_the_formula():
    """y = x W^T: 2 B I O FLOPs forward; backward 2 B I O for dW and 2 B I O for dx (x requires grad)."""
    batch, fan_in, fan_out = 8, 32, 16
    layer = torch.nn.Linear(fan_in, fan_out)
    x = torch.randn(batch, fan_in, requires_grad=True)
    assert count_flops(lambda: layer(x)) == 2 * batch * fan_in * fan_out
    assert count_flops(lambda: layer(x).sum().backward()) == 3 * 2 * batch * fan_in * fan_out
    frozen_input = torch.randn(batch, fan_in)  # no dx: forward + dW only
    assert count_flops(lambda: layer(frozen_input).sum().backward()) == 2 * 2 * batch * fan_in * fan_out


def test_conv2d_forward_and_backward_match_the_formula():
    """2 N C_out H_out W_out C_in k^2 FLOPs forward (bias not counted); backward twice that (input and weight)."""
    n, c_in, c_out, side, k = 2, 3, 8, 16, 3
    conv = torch.nn.Conv2d(c_in, c_out, k, stride=2, padding=1)
    x = torch.randn(n, c_in, side, side, requires_grad=True)
    out_side = (side + 2 - k) // 2 + 1
    forward = 2 * n * c_out * out_side * out_side * c_in * k * k
    assert count_flops(lambda: conv(x)) == forward
    assert count_flops(lambda: conv(x).sum().backward()) == 3 * forward


def test_gradient_penalty_is_counted_without_failing():
    """The critic's double backward (autograd.grad with create_graph, then backward) runs under the counter and
    counts more than a plain forward and backward of the same critic."""
    critic = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 8 * 8, 1))
    x = torch.randn(4, 1, 8, 8, requires_grad=True)

    def penalised() -> None:
        (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
        (critic(x).mean() + grad.flatten(1).norm(dim=1).mean()).backward()

    plain = count_flops(lambda: critic(x).sum().backward())
    assert count_flops(penalised) > 2 * plain * 0.9


@pytest.mark.parametrize(("name", "peak"), [("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.4),
                                            ("NVIDIA H200", 989.4), ("NVIDIA A100-SXM4-80GB", 312.0),
                                            ("NVIDIA L4", 121.0), ("NVIDIA GeForce RTX 4090", 165.2),
                                            ("NVIDIA L40S", None), ("Tesla T4", None)])
def test_peaks_by_device_name(name, peak):
    assert lookup_peak(name)[0] == peak


def test_cpu_has_no_peak_unless_given(monkeypatch):
    monkeypatch.delenv(PEAK_ENV, raising=False)
    assert peak_tflops(torch.device("cpu"))[0] is None
    monkeypatch.setenv(PEAK_ENV, "2.5")
    assert peak_tflops(torch.device("cpu")) == (2.5, PEAK_ENV)


def test_measure_reports_flops_time_and_mfu():
    layer = torch.nn.Linear(64, 64)
    x = torch.randn(16, 64)
    call = StepCall("linear 64", "one step", lambda: layer(x).sum().backward(), lambda: layer(x).sum().backward())
    row = measure(call, torch.device("cpu"), units=2, warmup=1, peak=None)
    assert row["flops_per_step"] == 2 * 2 * 16 * 64 * 64 and row["step_s"] > 0 and row["mfu"] is None
    with_peak = measure(call, torch.device("cpu"), units=2, warmup=1, peak=1e-3)
    assert with_peak["mfu"] == pytest.approx(with_peak["achieved_tflops"] / 1e-3)
    lines = markdown({"peak_tflops": None, "peak_source": "no peak known (cpu)", "rows": {"linear": row}})
    assert any(line.startswith("| linear | linear 64 |") for line in lines)
