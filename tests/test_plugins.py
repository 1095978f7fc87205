"""Third-party plugins join through entry points (groups `bench.methods` / `bench.datasets`), as a pip-installed
package would: a real dist-info folder on the path, read by importlib.metadata in a fresh process. The plugin
passes the same contract checks as the built-ins, through `bench.testing.check_detector` as its author would run
them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = textwrap.dedent('''
    import dataclasses
    from bench.methods.pca.detector import PCADetector, PCAConfig

    class TinyPCA(PCADetector):
        """PCA with 3 components, shipped by a third-party package."""
        name = "tinypca"
        presets = {p: PCAConfig(n_components=3) for p in ("paper", "fast", "smoke", "tiny")}
''')


def install_fake_distribution(site: Path) -> None:
    (site / "tinyplugin.py").write_text(PLUGIN)
    info = site / "tinyplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.methods]\ntinypca = tinyplugin:TinyPCA\n")


def test_entry_point_plugin_is_listed_and_runs(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site)
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}  # the listing read whole, as the harness does
    listing = subprocess.run([sys.executable, "-m", "bench.cli", "list"], capture_output=True, text=True, env=env,
                             check=True).stdout
    assert "tinypca" in listing and "plugin tinyplugin 0.1" in listing
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--methods", "tinypca", "--dataset", "synthetic",
         "--root", str(tmp_path / "data"), "--preset", "smoke", "--runs", str(runs),
         "--set", "data.n_normal=30", "--set", "data.unlabeled_size=0", "--set", "data.n_val=5",
         "--set", "data.n_test=8", "--set", "data.generate_size=64"],
        capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    (record,) = runs.glob("synthetic/tinypca/*/run.json")
    assert json.loads(record.read_text())["config"]["n_components"] == 3


FAMILY = textwrap.dedent('''
    from bench.core.registry import Entry

    MEMBERS = {"a": "first tiny model", "b": "second tiny model"}

    def register(methods, origin):
        def entry(member):
            return Entry(f"tiny:{member}", "tinyplugin:TinyPCA", origin=origin, summary=MEMBERS[member], in_all=False)
        methods.register_family("tiny", entry, lambda: [entry(m) for m in MEMBERS])
''')


def test_a_name_family_joins_through_its_entry_point_group(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site)
    (site / "tinyfamily.py").write_text(FAMILY)
    info = site / "tinyfamily-0.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyfamily\nVersion: 0.2\n")
    (info / "entry_points.txt").write_text("[bench.method_families]\ntiny = tinyfamily:register\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("from bench.core import registry; e = registry.methods.entry('tiny:b'); "
            "print(e.origin, '|', e.summary, '|', registry.get_method('tiny:b').__name__, '|', "
            "'tiny:a' in registry.resolve_method_names('all'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split("\n")[0] == "plugin tinyfamily 0.2 | second tiny model | TinyPCA | False"
    listing = subprocess.run([sys.executable, "-m", "bench.cli", "list"], capture_output=True, text=True, env=env,
                             check=True).stdout
    assert "tiny:a" in listing and "first tiny model" in listing


CHECK = textwrap.dedent('''
    import sys
    from bench.core import registry
    from bench.testing import check_detector

    for result in check_detector(registry.get_method("tinypca"), workdir=sys.argv[1]):
        print(result.check, result.outcome)
''')


def test_entry_point_plugin_passes_the_contract_checks(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "checks")], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    outcomes = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert outcomes["fit_returns_self"] == "passed" and outcomes["same_seed_gives_same_scores"] == "passed"
    assert outcomes["restored_images_are_uint8_images"] == "not applicable"
    assert set(outcomes.values()) == {"passed", "not applicable"}
    assert (tmp_path / "checks" / "cache").is_dir(), "the tiny data was decoded into the work folder, not BENCH_CACHE"
