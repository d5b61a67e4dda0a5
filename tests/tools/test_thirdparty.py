"""tools.compat.thirdparty: modules we import must come with each release, names with aliases."""

from __future__ import annotations

from pathlib import Path
import textwrap
import zipfile

from tools.compat.hasource import SourceTree
from tools.compat.model import Row, Status
from tools.compat.thirdparty import check, collect_imports, read_surface

OUR_CODE = """
    import json
    import aiohttp
    import voluptuous as vol
    from homeassistant.core import HomeAssistant
    from yarl import URL

    SCHEMA = vol.Schema({vol.Required("host"): str, vol.Exclusive("a", "g"): int})
    TIMEOUT = aiohttp.ClientTimeout(total=5)
"""


def release(root: Path, init: str, requires: list[str]) -> SourceTree:
    """Write a fake homeassistant release with this __init__ and Requires-Dist."""
    (root / "homeassistant").mkdir(parents=True)
    (root / "homeassistant" / "__init__.py").write_text(textwrap.dedent(init))
    tree = SourceTree.from_dir(root, root.name)
    tree.requires_dist = requires
    return tree


def shim_wheel(path: Path, names: tuple[str, ...]) -> Path:
    """Write a provider wheel whose surface file lists `names`."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("probatio/_vol_shim/_surface.py", f"TOP = {names!r}\n")
    return path


def test_an_aliased_module_offers_only_its_surface_and_unshipped_modules_are_missing(
    tmp_path: Path,
) -> None:
    """Test that names outside probatio's voluptuous shim, and modules HA does not ship, fail."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(textwrap.dedent(OUR_CODE))
    usages = collect_imports(package)
    labels = {u.chain.module for u in usages}
    assert {"aiohttp", "voluptuous", "yarl", "voluptuous.Schema", "yarl.URL"} <= labels
    assert not {label for label in labels if label.split(".")[0] in {"json", "homeassistant"}}

    old = release(tmp_path / "old", "", ["voluptuous==0.15.2", "aiohttp==3.11.16", "yarl==1.18.3"])
    new = release(
        tmp_path / "new",
        "from probatio.compat import install_as_voluptuous\ninstall_as_voluptuous()\n",
        ["probatio==0.13.0", "aiohttp==3.14.5"],
    )
    wheel = shim_wheel(tmp_path / "probatio.whl", ("Schema", "Required"))
    asked: list[tuple[str, str]] = []

    def surface(provider: str, version: str, file: str, name: str) -> frozenset[str]:
        asked.append((provider, version))
        return read_surface(wheel, file, name)

    rows: dict[str, Row] = {}
    check(usages, {"old": old, "new": new}, [], surface, rows)

    def status(label: str, version: str) -> Status:
        return rows[label].findings[version].status

    assert asked == [("probatio", "0.13.0")]
    assert status("voluptuous.Schema", "new") is Status.OK
    assert status("voluptuous.Exclusive", "new") is Status.MISSING  # not in the shim
    assert status("voluptuous.Exclusive", "old") is Status.OK  # the real voluptuous
    assert "probatio==0.13.0" in rows["voluptuous (third-party)"].findings["new"].detail
    assert status("yarl (third-party)", "old") is Status.OK
    assert status("yarl (third-party)", "new") is Status.MISSING  # dropped, not in our manifest
    assert status("aiohttp.ClientTimeout", "new") is Status.OK

    manifest_rows: dict[str, Row] = {}
    check(usages, {"new": new}, ["yarl==1.25.1"], surface, manifest_rows)
    assert manifest_rows["yarl (third-party)"].findings["new"].status is Status.OK
