"""The registry: built-ins as entry points, metadata from the class without importing it, suggestions for unknown
names, duplicate warnings, plugins by decorator."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from bench.core import DISTRIBUTION, registry
from bench.core.detector import Detector
from bench.core.errors import BenchError
from bench.core.registry import METADATA, OWN_METADATA, Registry
from bench.core.static_attributes import read_class_attributes
from bench.report.names import dataset_label

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_method_suggests_close_names():
    with pytest.raises(BenchError, match="Did you mean pca"):
        registry.get_method("pcaa")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(BenchError, match="Known: .*synthetic"):
        registry.get_dataset("nope")


def test_registering_a_name_twice_warns():
    local = Registry("method", "test.group", "bench.core.detector:Detector")
    local.register("x", "bench.methods.pca.detector:PCADetector")
    with pytest.warns(UserWarning, match="registered twice"):
        local.register("x", "bench.methods.pca.detector:PCADetector")


def test_entry_must_be_a_detector_subclass():
    local = Registry("method", "test.group", "bench.core.detector:Detector")
    local.register("bad", "bench.metrics.image:ThresholdPolicy")
    with pytest.raises(BenchError, match="not a Detector subclass"):
        local.get("bad")


def test_decorator_registers_in_process_plugins():
    local = Registry("method", "test.group", "bench.core.detector:Detector")
    from bench.methods.pca.detector import PCADetector

    local.register("mine", PCADetector)
    assert local.get("mine") is PCADetector
    assert issubclass(local.get("mine"), Detector)


def test_resolve_all_and_lists():
    assert "pca" in registry.resolve_method_names("all")
    assert registry.resolve_method_names("pca,pca") == ["pca"]
    with pytest.raises(BenchError, match="empty"):
        registry.resolve_method_names(" , ")


def test_listing_reads_metadata_without_importing_plugin_code():
    code = ("import sys; from bench.core import registry\n"
            "for kind in (registry.methods, registry.datasets):\n"
            "    for e in kind.entries(with_families=True): (e.summary, e.uses_unlabeled, e.in_all, e.display_name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'anomalib', 'sklearn', 'pandas')\n"
            "             or m.startswith(('bench.datasets.', 'bench.core.detector', 'bench.data'))\n"
            "             or m.startswith('bench.methods.') and not m.endswith(('anomalib_models', '.catalog'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_built_ins_are_this_distributions_entry_points_as_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group in ("bench.methods", "bench.datasets", "bench.method_families"):
        installed = {ep.name: ep.value for ep in entry_points(group=group)
                     if ep.dist is not None and ep.dist.name.replace("_", "-") == DISTRIBUTION}
        assert installed == declared[group], f"re-install (pip install -e .): {group} differs from pyproject.toml"
    for kind, group in ((registry.methods, "bench.methods"), (registry.datasets, "bench.datasets")):
        for name in declared[group]:
            assert kind.entry(name).origin == "built-in"


BUILT_INS = [(registry.methods, name) for name in registry.methods.names()] + [
    (registry.datasets, name) for name in registry.datasets.names()]


@pytest.mark.parametrize(("kind", "name"), BUILT_INS, ids=[n for _, n in BUILT_INS])
def test_metadata_read_from_source_is_what_the_class_says(kind, name):
    entry = kind.entry(name)
    from_source = read_class_attributes(entry.target, METADATA, own=OWN_METADATA)
    assert from_source is not None, f"{entry.target}: set the metadata as plain literals on the class"
    cls = kind.get(name)
    inherited = {k: getattr(cls, k) for k in METADATA if k not in OWN_METADATA and hasattr(cls, k)}
    assert from_source == {**inherited, **{k: vars(cls)[k] for k in OWN_METADATA if k in vars(cls)}}
    assert cls.summary and entry.summary == cls.summary
    assert entry.display_name == (vars(cls).get("display_name") or name)


def test_a_subclass_registered_under_another_name_keeps_its_own_display_name():
    from bench.datasets.synthetic import SyntheticDataset

    class Harder(SyntheticDataset):
        name = "harder"

    local = Registry("dataset", "test.group", "bench.data.adapter:DatasetAdapter")
    local.register("harder", Harder)
    local.register("synthetic", "bench.datasets.synthetic:SyntheticDataset")
    assert local.display_name("harder") == "harder" and local.display_name("synthetic") == "Synthetic"
    assert local.entry("harder").summary == SyntheticDataset.summary  # the rest is inherited, as Python does


def test_registry_names_no_built_in():
    source = (ROOT / "bench" / "core" / "registry.py").read_text()
    named = [n for _, n in BUILT_INS if re.search(rf"\b{re.escape(n)}\b", source, re.IGNORECASE)]
    assert named == []


def test_display_names_come_from_the_class_and_unknown_names_print_as_given():
    assert registry.datasets.display_name("vindr") == "VinDr-CXR"
    assert dataset_label("chestxray14") == "ChestX-ray14"
    assert registry.methods.display_name("healthygan") == "HealthyGAN"
    assert registry.datasets.display_name("medad") == "medad"  # sets none
    assert dataset_label("a-plugin-that-is-gone") == "a-plugin-that-is-gone"


def test_entry_metadata_given_directly_wins_and_unknown_keys_are_rejected():
    from bench.methods.pca.detector import PCADetector

    entry = registry.Entry("p", PCADetector, uses_unlabeled=True, in_all=False)
    assert entry.uses_unlabeled is True and entry.in_all is False and entry.summary == PCADetector.summary
    with pytest.raises(TypeError, match="unknown entry metadata"):
        registry.Entry("p", PCADetector, colour="red")


def test_a_plugin_that_cannot_be_imported_is_still_listed():
    entry = registry.Entry("broken", "no_such_module_anywhere:Thing")
    assert entry.summary.startswith("(cannot import") and entry.uses_unlabeled is None
