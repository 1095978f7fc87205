"""The detector contract as runnable checks, for plugin authors and for bench's own conformance suite.

`check_detector(MyDetector)` fits one detector with its `tiny` preset on tiny synthetic data (generated and read
through the real adapter -> manifest -> cache path) and runs every check in `CHECKS` on it, as scikit-learn's
`check_estimator` does for estimators. Each check is a plain function of a `Subject` (the class, the data and the
detector fitted once), so a test runner can also call them one by one; nothing here needs pytest.

The convention "higher score = more anomalous" needs a detector that learned something: `learning_auc` measures
it (an AUC on the synthetic test split, which must beat a floor well above 0.5); the contract checks only need a
fitted detector, not a good one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.detector import Detector
from bench.core.environment import temporary_env
from bench.core.errors import NotFittedError
from bench.core.images import ImageSet, TrainData
from bench.data.adapter import PreparedData

# Enough images to check the contract in seconds (per class for val and test).
TINY_DATA: Mapping[str, int] = {"n_normal": 48, "unlabeled_size": 32, "n_val": 8, "n_test": 12, "generate_size": 64}
# Enough for a learning check: a method must separate opacities from normal anatomy.
LEARNING_DATA: Mapping[str, int] = {"n_normal": 400, "unlabeled_size": 400, "n_val": 40, "n_test": 150,
                                    "generate_size": 64}
REQUIRED_PRESETS = ("paper", "fast", "smoke", "tiny")
CHECK_PRESET = "tiny"  # seconds on a CPU: the contract needs a fitted detector, not a good one
LEARNING_PRESET = "smoke"


class NotApplicable(Exception):  # noqa: N818  (an outcome, like unittest's SkipTest, not an error)
    """Raised by a check that does not apply to this detector (e.g. anomaly maps of a method without maps)."""


class CheckFailed(AssertionError):
    """One or more checks failed; the message names each failed check and why."""


def synthetic_data(root: Path | str, options: Mapping[str, object] = TINY_DATA) -> PreparedData:
    """Generate (once) and prepare the built-in synthetic data set under `root` with `options` (`data.*` keys),
    through the same adapter, manifest and image cache as any real data set."""
    from bench.datasets.synthetic import SyntheticDataset

    adapter = SyntheticDataset(Path(root), SyntheticDataset.make_options({k: str(v) for k, v in options.items()}))
    return adapter.prepare()


def train_data(prepared: PreparedData, detector_class: type[Detector]) -> TrainData:
    """The training sets `fit` gets in a run: known normals, plus the unlabeled set (labels hidden) where used."""
    unlabeled = prepared.split("train_unlabeled").without_labels() if detector_class.uses_unlabeled else None
    return TrainData(prepared.split("train_normal"), unlabeled)


class Subject:
    """A detector class under check: tiny data, a work folder, and one detector fitted (once) on first use."""

    def __init__(self, detector_class: type[Detector], data: PreparedData, workdir: Path | str, *,
                 preset: str = CHECK_PRESET, seed: int = 0) -> None:
        self.detector_class = detector_class
        self.data = data
        self.workdir = Path(workdir)
        self.preset = preset
        self.seed = seed
        self._fitted: Detector | None = None
        self._fit_returned: object = None
        self._fit_error: BaseException | None = None

    @property
    def name(self) -> str:
        return getattr(self.detector_class, "name", self.detector_class.__name__)

    @property
    def test(self) -> ImageSet:
        return self.data.split("test")

    def build(self, *, seed: int | None = None, folder: str | None = None) -> Detector:
        """A new, unfitted detector of the preset on the CPU; `folder`: a new work folder under `workdir` whose name
        starts so (never an old one: a method that resumes from checkpoints would resume instead of fitting)."""
        workdir = None
        if folder is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix=f"{folder}-", dir=self.workdir))
        return self.detector_class.from_preset(self.preset, seed=self.seed if seed is None else seed,
                                               device="cpu", workdir=workdir)

    def fit_new(self, *, seed: int | None = None, folder: str = "fit") -> tuple[Detector, object]:
        """Build and fit a detector in a new folder, as a run does (with the validation split); returns the
        detector and what `fit` returned."""
        detector = self.build(seed=seed, folder=folder)
        returned = detector.fit(train_data(self.data, self.detector_class), val=self.data.split("val"))
        return detector, returned

    def fitted(self) -> Detector:
        """The detector fitted once and shared by the checks that only read it."""
        if self._fit_error is not None:
            raise AssertionError(f"{self.name}: fit failed: {self._fit_error!r}") from self._fit_error
        if self._fitted is None:
            try:
                self._fitted, self._fit_returned = self.fit_new()
            except Exception as exc:
                self._fit_error = exc
                raise
        return self._fitted

    @property
    def fit_returned(self) -> object:
        """What `fit` returned on the shared fit."""
        self.fitted()
        return self._fit_returned


# --- the checks: one rule each ------------------------------------------------------------------------------------

def check_presets_exist_and_are_frozen(subject: Subject) -> None:
    """Presets paper, fast, smoke and tiny exist, each a frozen config of the class's `config_class`."""
    cls = subject.detector_class
    missing = [p for p in REQUIRED_PRESETS if p not in cls.presets]
    assert not missing, f"{subject.name}: missing preset(s) {', '.join(missing)} (needs {', '.join(REQUIRED_PRESETS)})"
    for preset, config in cls.presets.items():
        assert isinstance(config, cls.config_class), f"{subject.name}: preset {preset!r} is not a {cls.config_class}"
        assert dataclasses.is_dataclass(config), f"{subject.name}: preset {preset!r} is not a dataclass"
        field = dataclasses.fields(config)[0].name
        try:
            setattr(config, field, getattr(config, field))
        except AttributeError:  # dataclasses.FrozenInstanceError
            continue
        raise AssertionError(f"{subject.name}: preset {preset!r} can be changed in place (make its dataclass frozen)")


def check_score_before_fit_raises(subject: Subject) -> None:
    """`score` on an unfitted detector raises NotFittedError (not an arbitrary AttributeError)."""
    try:
        subject.build().score(subject.test)
    except NotFittedError:
        return
    raise AssertionError(f"{subject.name}: score() before fit() did not raise NotFittedError")


def check_fit_returns_self(subject: Subject) -> None:
    """`fit` returns the detector itself (so `Detector(...).fit(data).score(x)` works)."""
    returned = subject.fit_returned
    assert returned is subject.fitted(), f"{subject.name}: fit() returned {type(returned).__name__}, not self"


def check_scores_are_one_finite_float_per_image(subject: Subject) -> None:
    """`score` gives one finite float64 per image, and not the same score for every image."""
    test = subject.test
    scores = subject.fitted().score(test)
    assert scores.shape == (len(test),), f"{subject.name}: scores of shape {scores.shape} for {len(test)} images"
    assert scores.dtype == np.float64, f"{subject.name}: scores are {scores.dtype}, not float64"
    assert np.isfinite(scores).all(), f"{subject.name}: non-finite scores"
    assert np.ptp(scores) > 0, f"{subject.name}: all test images got the same score"


def check_score_does_not_change_state(subject: Subject) -> None:
    """Scoring leaves the learned state as it was, and scoring twice gives the same scores."""
    detector = subject.fitted()
    before = _snapshot(detector.state_dict())
    first = detector.score(subject.test)
    _assert_same_state(before, _snapshot(detector.state_dict()), f"{subject.name}: state")
    np.testing.assert_array_equal(detector.score(subject.test), first,
                                  err_msg=f"{subject.name}: a second score() gave other scores")


def check_scores_do_not_depend_on_batch_or_order(subject: Subject) -> None:
    """Scores are per image: reversed order, a 3-image batch and one image alone give the same scores (running
    min/max normalisation across batches fails this)."""
    detector, test = subject.fitted(), subject.test
    scores = detector.score(test)
    reverse = np.arange(len(test))[::-1]
    tolerance = {"rtol": 1e-4, "atol": 1e-6}
    np.testing.assert_allclose(detector.score(test.subset(reverse))[::-1], scores, **tolerance,
                               err_msg=f"{subject.name}: scores depend on the order of the images")
    np.testing.assert_allclose(detector.score(test.subset(slice(0, 3))), scores[:3], **tolerance,
                               err_msg=f"{subject.name}: scores depend on the batch")
    np.testing.assert_allclose(detector.score(test.subset([5])), scores[5:6], **tolerance,
                               err_msg=f"{subject.name}: one image alone scores differently")


def check_save_load_gives_identical_scores(subject: Subject) -> None:
    """A detector written by `save` and read by `load` scores as the original does."""
    detector = subject.fitted()
    path = subject.workdir / "save-load" / "detector.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    detector.save(path)
    restored = subject.detector_class.load(path, device="cpu")
    np.testing.assert_allclose(restored.score(subject.test), detector.score(subject.test), rtol=1e-6, atol=1e-7,
                               err_msg=f"{subject.name}: the loaded detector scores differently")


def check_same_seed_gives_same_scores(subject: Subject) -> None:
    """A second fit with the same seed (in a new work folder: nothing to resume) gives the same scores."""
    detector = subject.fitted()
    again, _ = subject.fit_new(seed=detector.seed, folder="refit")
    np.testing.assert_allclose(again.score(subject.test), detector.score(subject.test), rtol=1e-5, atol=1e-6,
                               err_msg=f"{subject.name}: the same seed gave other scores")


def check_anomaly_maps_have_image_size(subject: Subject) -> None:
    """Where the method has anomaly maps: finite (N, H, W) at the input images' size."""
    test = subject.test.subset(slice(0, 4))
    maps = subject.fitted().anomaly_maps(test)
    if maps is None:
        raise NotApplicable(f"{subject.name} has no anomaly maps")
    assert maps.shape == (4, *test.size), f"{subject.name}: maps of shape {maps.shape} for 4 images of {test.size}"
    assert np.isfinite(maps).all(), f"{subject.name}: non-finite anomaly maps"


def check_scores_with_maps_equal_score_and_maps(subject: Subject) -> None:
    """`score_with_maps` (the run's one pass when it scores localisation) gives `score`'s scores and
    `anomaly_maps`' maps of the kept rows, in the order asked."""
    detector, test = subject.fitted(), subject.test
    keep = np.array([5, 0, 2, 7])
    scores, maps = detector.score_with_maps(test, keep)
    np.testing.assert_allclose(scores, detector.score(test), rtol=1e-5, atol=1e-6,
                               err_msg=f"{subject.name}: score_with_maps gave other scores than score")
    expected = detector.anomaly_maps(test.subset(keep))
    if expected is None:
        assert maps is None, f"{subject.name}: score_with_maps gave maps, anomaly_maps none"
        return
    assert maps is not None, f"{subject.name}: score_with_maps gave no maps, anomaly_maps did"
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6,
                               err_msg=f"{subject.name}: score_with_maps gave other maps than anomaly_maps")


def check_restored_images_are_uint8_images(subject: Subject) -> None:
    """Where the method restores images: uint8 of the input's shape (N, C, H, W)."""
    test = subject.test.subset(slice(0, 3))
    restored = subject.fitted().restored_images(test)
    if restored is None:
        raise NotApplicable(f"{subject.name} restores no images")
    assert restored.shape == test.images.shape, f"{subject.name}: restored {restored.shape}, input {test.images.shape}"
    assert restored.dtype == np.uint8, f"{subject.name}: restored images are {restored.dtype}, not uint8"


Check = Callable[[Subject], None]
CHECKS: tuple[Check, ...] = (
    check_presets_exist_and_are_frozen,
    check_score_before_fit_raises,
    check_fit_returns_self,
    check_scores_are_one_finite_float_per_image,
    check_score_does_not_change_state,
    check_scores_do_not_depend_on_batch_or_order,
    check_save_load_gives_identical_scores,
    check_same_seed_gives_same_scores,
    check_anomaly_maps_have_image_size,
    check_scores_with_maps_equal_score_and_maps,
    check_restored_images_are_uint8_images,
)


def check_name(check: Check) -> str:
    """`check_fit_returns_self` -> `fit_returns_self` (test ids, reports)."""
    return check.__name__.removeprefix("check_")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's outcome: "passed", "not applicable" or "failed", with the reason."""

    check: str
    outcome: str
    message: str = ""


def check_detector(detector_class: type[Detector], *, preset: str = CHECK_PRESET, data: PreparedData | None = None,
                   workdir: Path | str | None = None, checks: Sequence[Check] = CHECKS) -> list[CheckResult]:
    """Run `checks` on `detector_class`: one detector fitted with `preset` on `data` (default: tiny synthetic data
    made under `workdir`, a temporary folder by default, decoded there too) shared by all of them.

    Returns every check's result; raises CheckFailed naming each failed check when any failed.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-check-"))
        workdir = Path(workdir)
        if data is None:
            with _cache_under(workdir / "cache"):
                data = synthetic_data(workdir / "data", TINY_DATA)
        subject = Subject(detector_class, data, workdir / "work", preset=preset)
        results = [_run(check, subject) for check in checks]
    failed = [r for r in results if r.outcome == "failed"]
    if failed:
        raise CheckFailed(f"{subject.name} failed {len(failed)} of {len(results)} checks:\n"
                          + "\n".join(f"- {r.check}: {r.message}" for r in failed))
    return results


def learning_auc(detector_class: type[Detector], data: PreparedData, *, preset: str = LEARNING_PRESET,
                 seed: int = 0, workdir: Path | str | None = None) -> float:
    """ROC AUC on `data`'s test split of a detector fitted with `preset` (higher scores must mean abnormal)."""
    from sklearn.metrics import roc_auc_score

    detector = detector_class.from_preset(preset, seed=seed, device="cpu", workdir=workdir)
    detector.fit(train_data(data, detector_class), val=data.split("val"))
    test = data.split("test")
    return float(roc_auc_score(test.labels, detector.score(test)))


def _run(check: Check, subject: Subject) -> CheckResult:
    try:
        check(subject)
    except NotApplicable as exc:
        return CheckResult(check_name(check), "not applicable", str(exc))
    except Exception as exc:  # a crash inside the detector is a failed check too, reported with its type
        message = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
        return CheckResult(check_name(check), "failed", message.strip())
    return CheckResult(check_name(check), "passed")


@contextlib.contextmanager
def _cache_under(folder: Path) -> Iterator[None]:
    """Decode into `folder` instead of the user's BENCH_CACHE while the block runs."""
    with temporary_env("BENCH_CACHE", str(folder)):
        yield


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Mapping):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_snapshot(v) for v in value)
    return value


def _assert_same_state(before: Any, after: Any, path: str) -> None:
    if isinstance(before, torch.Tensor):
        assert isinstance(after, torch.Tensor) and torch.equal(before, after), f"{path} changed while scoring"
    elif isinstance(before, np.ndarray):
        assert isinstance(after, np.ndarray) and np.array_equal(before, after), f"{path} changed while scoring"
    elif isinstance(before, Mapping):
        assert isinstance(after, Mapping) and before.keys() == after.keys(), f"{path} keys changed while scoring"
        for key in before:
            _assert_same_state(before[key], after[key], f"{path}.{key}")
    elif isinstance(before, list | tuple):
        assert isinstance(after, list | tuple) and len(before) == len(after), f"{path} changed while scoring"
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            _assert_same_state(a, b, f"{path}[{i}]")
    else:
        assert before == after, f"{path} changed while scoring"
