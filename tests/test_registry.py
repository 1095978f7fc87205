"""The registry: lazy entries, suggestions for unknown names, duplicate warnings, plugins by decorator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import registry
from bench.detector import Detector
from bench.errors import BenchError
from bench.registry import Registry


def test_unknown_method_suggests_close_names():
    with pytest.raises(BenchError, match="Did you mean pca"):
        registry.get_method("pcaa")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(BenchError, match="Known: .*synthetic"):
        registry.get_dataset("nope")


def test_registering_a_name_twice_warns():
    local = Registry("method", "test.group", "bench.detector:Detector")
    local.register("x", "bench.methods.pca.detector:PCADetector")
    with pytest.warns(UserWarning, match="registered twice"):
        local.register("x", "bench.methods.pca.detector:PCADetector")


def test_entry_must_be_a_detector_subclass():
    local = Registry("method", "test.group", "bench.detector:Detector")
    local.register("bad", "bench.metrics:ThresholdPolicy")
    with pytest.raises(BenchError, match="not a Detector subclass"):
        local.get("bad")


def test_decorator_registers_in_process_plugins():
    local = Registry("method", "test.group", "bench.detector:Detector")
    from bench.methods.pca.detector import PCADetector

    local.register("mine", PCADetector)
    assert local.get("mine") is PCADetector
    assert issubclass(local.get("mine"), Detector)


def test_resolve_all_and_lists():
    assert "pca" in registry.resolve_method_names("all")
    assert registry.resolve_method_names("pca,pca") == ["pca"]
    with pytest.raises(BenchError, match="empty"):
        registry.resolve_method_names(" , ")


def test_listing_imports_no_method_code():
    code = ("import sys; from bench import registry; list(registry.methods.entries(with_families=True)); "
            "heavy = [m for m in sys.modules if m.startswith(('anomalib', 'bench.methods.'))]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
