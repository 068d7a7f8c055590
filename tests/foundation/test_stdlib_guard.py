"""The `platform/` source root must never shadow the standard library."""

import importlib
import pathlib
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
STDLIB_NAMES = set(sys.stdlib_module_names)


def test_import_platform_is_the_standard_library():
    """`import platform` gives the stdlib module, not our source folder."""
    module = importlib.import_module("platform")
    assert hasattr(module, "python_version")
    assert (
        pathlib.Path(module.__file__).resolve().is_relative_to(pathlib.Path(sysconfig.get_paths()["stdlib"]).resolve())
    )


def test_platform_folder_is_not_a_package():
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_no_top_level_module_shadows_the_standard_library():
    """Nothing directly under the repo root or platform/ uses a standard-library name."""
    for folder in (ROOT, ROOT / "platform"):
        for child in folder.iterdir():
            name = child.stem if child.suffix == ".py" else child.name
            if child.name == "platform" and folder == ROOT:
                continue  # the source root itself; guarded by the two tests above
            if child.is_dir() or child.suffix == ".py":
                assert name not in STDLIB_NAMES, f"{child} shadows the standard library module {name!r}"
