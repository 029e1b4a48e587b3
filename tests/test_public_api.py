"""The public names are pinned: removing or renaming one is a breaking change and must be deliberate."""

import miestim
import miestim.functional
import miestim.gaussian
import miestim.sampling
import miestim.tasks
import miestim.validation

TOP_LEVEL = {
    "BilinearCritic",
    "CMINE",
    "ConcatCritic",
    "Critic",
    "CriticFamily",
    "DV",
    "Decomposition",
    "decompose",
    "ESTIMATORS",
    "EstimateResult",
    "InfoNCE",
    "InterpolatedBound",
    "JS",
    "KNNSampler",
    "LogBaseline",
    "MIEstimator",
    "MINE",
    "NWJ",
    "SMILE",
    "SeparableCritic",
    "TUBA",
    "TrainingHistory",
    "distributed",
    "estimate_cmi",
    "estimate_mi",
    "functional",
    "gaussian",
    "sampling",
    "tasks",
    "Suite",
    "ValidationReport",
    "validate",
    "validation",
}


def test_top_level_names():
    assert set(miestim.__all__) == TOP_LEVEL
    for name in miestim.__all__:
        assert getattr(miestim, name) is not None


def test_subpackage_names_resolve():
    for module in (miestim.distributed, miestim.functional, miestim.gaussian, miestim.sampling, miestim.tasks, miestim.validation):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert miestim.KNNSampler is miestim.sampling.KNNSampler
    assert miestim.validate is miestim.validation.validate and miestim.ValidationReport is miestim.validation.ValidationReport


def test_tasks_names():
    assert set(miestim.tasks.__all__) == {
        "AdditiveConditionalTask",
        "AdditiveUniformTask",
        "MixingTask",
        "ScaleMixtureTask",
        "SpiralTask",
        "StudentTTask",
        "beyond_gaussian_tasks",
        "student_t_tail_mi",
    }


def test_every_estimator_name_builds_its_class():
    for name, cls in miestim.ESTIMATORS.items():
        assert cls.name == name and issubclass(cls, miestim.MIEstimator)
