"""A fixture build's stamp follows the code it runs: its family module and the helpers that module imports."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def builders(artifacts):
    return artifacts.builders


def sources(name: str) -> list[str]:
    registry = sys.modules["graphaudit_fixtures.registry"]
    func = registry.builder(name).func
    while isinstance(func, functools.partial):
        func = func.func
    return [p.name for p in registry._sources(Path(sys.modules[func.__module__].__file__))]


def test_a_stamp_covers_the_family_module_and_what_it_imports(builders):
    assert sources("dup_tiny") == ["family_duplicates.py", "readback.py", "registry.py", "tfkit.py"]
    assert sources("graphdef_pb") == ["family_formats_tf1.py", "readback.py", "registry.py", "tfkit.py"]
    # The serving builds share the architectures with family_provenance, not its code.
    assert sources("provenance_serving_mobilenetv2_035") == [
        "family_provenance_serving.py", "provenance_models.py", "registry.py", "tfkit.py"]


def test_builders_of_one_family_share_a_stamp_and_families_differ(builders):
    assert builders.fingerprint("graphdef_pb") == builders.fingerprint("tf1_saved_model_clean")
    assert builders.fingerprint("provenance_tf1_resnet101") == builders.fingerprint("provenance_keras3_densenet169")
    stamps = {builders.fingerprint(n) for n in ("graphdef_pb", "checkpoint_tf2", "dup_tiny", "sem_tf1",
                                                "provenance_tf1_resnet101", "provenance_serving_resnet101")}
    assert len(stamps) == 6


def test_every_builder_has_a_folder_of_its_own(builders):
    folders = [builders.target(n, "out") for n in builders.names()]
    assert len(folders) == len(set(folders))
    assert builders.target("example_clean", "out") == Path("out") / "tf1_clean"
