"""Archive safety: every refusal rule, with its message; the rest of the archive is still read."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ingest.archive import open_bundle
from ingest.archive_limits import ArchiveLimits
from tests.garmin.fixtures import (
    ABSOLUTE_PATH,
    DEEP_ZIP_PATH,
    SYMLINK_PATH,
    ZIP_SLIP_PATH,
    build_garmin_export,
    zip_bytes,
)


def _refusals(path: Path, limits: ArchiveLimits | None = None) -> dict[str, str]:
    with open_bundle(path, limits or ArchiveLimits()) as b:
        return {r.path: r.reason for r in b.refusals}


def test_hostile_members_refused_rest_read(tmp_path: Path) -> None:
    path = build_garmin_export(
        tmp_path,
        fit_files={"a.fit": b"x" * 20},
        zip_slip=True,
        absolute=True,
        symlink=True,
        deep_nesting=3,
    )
    with open_bundle(path) as b:
        reasons = {r.path: r.reason for r in b.refusals}
        members = {m.path for m in b.members}
    assert (
        reasons[ZIP_SLIP_PATH]
        == f"member path {ZIP_SLIP_PATH!r} escapes the extraction folder: refused"
    )
    assert reasons[ABSOLUTE_PATH] == f"absolute path {ABSOLUTE_PATH!r} in archive: refused"
    assert reasons[SYMLINK_PATH] == f"symlink {SYMLINK_PATH!r} in archive: refused"
    deep = [p for p in reasons if p.startswith(DEEP_ZIP_PATH)]
    assert deep and reasons[deep[0]] == "zip nested deeper than 3 levels: refused"
    # the good members, including the one inside the nested upload zip, are all there
    assert "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip!/a.fit" in members
    assert any(p.endswith("summarizedActivities.json") for p in members)


def test_nesting_within_limit_is_read(tmp_path: Path) -> None:
    inner = zip_bytes({"b.zip": zip_bytes({"deep.fit": b"payload"})})
    path = tmp_path / "x.zip"
    path.write_bytes(inner)  # x.zip (1) > b.zip (2) > deep.fit
    with open_bundle(path) as b:
        assert [m.path for m in b.members] == ["b.zip!/deep.fit"]
        assert b.members[0].load() == b"payload"


def test_corrupt_nested_zip(tmp_path: Path) -> None:
    path = build_garmin_export(tmp_path, corrupt_nested=True)
    reasons = _refusals(path)
    (bad,) = [p for p in reasons if p.endswith("UploadedFiles_1-_Part2.zip")]
    assert reasons[bad].startswith("corrupt zip archive: ")


def test_member_count_limit(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"f{i}.json": b"[]" for i in range(11)}))
    reasons = _refusals(path, ArchiveLimits(max_members=10))
    assert reasons == {
        "": "archive has 11 members (all nesting levels together), more than the limit of 10: refused"
    }


def test_expansion_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.json", b"0" * 1_000_000)
    size = path.stat().st_size
    reasons = _refusals(path, ArchiveLimits(max_expansion_ratio=20.0, ratio_floor_bytes=0))
    assert reasons[""] == (
        f"archive expands to 1,000,000 bytes, over the limit of {20 * size:,} bytes for this archive "
        f"(the smaller of 20x its {size:,} bytes and {20 * 1024**3:,}; all nesting levels together): refused"
    )
    packed = zipfile.ZipFile(path).getinfo("zeros.json").compress_size
    assert _refusals(path, ArchiveLimits(max_expansion_ratio=10_000.0, ratio_floor_bytes=0)) == {
        "zeros.json": f"member expands {1_000_000 / packed:,.0f}x ({packed:,} to 1,000,000 bytes), "
        "over the per-member limit of 1000x: refused"
    }
    assert (
        _refusals(
            path, ArchiveLimits(max_expansion_ratio=1e4, max_member_ratio=1e4, ratio_floor_bytes=0)
        )
        == {}
    )
    # under the floor, a small file of zeros is not a bomb
    assert _refusals(path, ArchiveLimits(max_expansion_ratio=20.0)) == {}


def test_folder_symlink_refused(tmp_path: Path) -> None:
    root = tmp_path / "export"
    root.mkdir()
    (root / "real.json").write_text("[]")
    (root / "link.json").symlink_to(root / "real.json")
    with open_bundle(root) as b:
        assert [m.path for m in b.members] == ["real.json"]
        assert {r.path: r.reason for r in b.refusals} == {
            "link.json": "symlink 'link.json' in folder: refused"
        }
