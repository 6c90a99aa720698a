"""Serving rules: no open dashboard on a network address without a password; the sign-in delay."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashboard import auth
from irisin.cli import app


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """What ``irisin dashboard`` would exec, recorded instead of run; no password from env or secrets."""
    calls: list[list[str]] = []
    monkeypatch.setattr("irisin.cli.os.execvp", lambda _prog, argv: calls.append(list(argv)))
    monkeypatch.delenv(auth.PASSWORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    return calls


def _study(tmp_path: Path) -> Path:
    assert CliRunner().invoke(app, ["init", str(tmp_path / "study")]).exit_code == 0
    return tmp_path / "study"


def test_network_address_without_password_is_refused(
    execs: list[list[str]], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["dashboard", "--study", str(_study(tmp_path)), "--host", "0.0.0.0"]
    )
    assert result.exit_code == 2
    assert "refusing to serve participant data on 0.0.0.0 without a password" in result.output
    assert execs == []


def test_insecure_flag_serves_and_tells_the_page(execs: list[list[str]], tmp_path: Path) -> None:
    study = _study(tmp_path)
    args = ["dashboard", "--study", str(study), "--host", "0.0.0.0", "--insecure-no-password"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert execs[0][-1] == "--insecure-no-password" and "0.0.0.0" in execs[0]


def test_password_from_env_or_secrets_allows_a_network_address(
    execs: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path)
    monkeypatch.setenv(auth.PASSWORD_ENV, "s3cret")
    assert (
        CliRunner()
        .invoke(app, ["dashboard", "--study", str(study), "--host", "10.1.2.3"])
        .exit_code
        == 0
    )
    monkeypatch.delenv(auth.PASSWORD_ENV)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        '[dashboard]\npassword = "x"\n', encoding="utf-8"
    )
    assert (
        CliRunner()
        .invoke(app, ["dashboard", "--study", str(study), "--host", "10.1.2.3"])
        .exit_code
        == 0
    )
    assert len(execs) == 2 and "--insecure-no-password" not in execs[1]


def test_loopback_needs_no_password(execs: list[list[str]], tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert auth.is_loopback(host), host
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"):
        assert not auth.is_loopback(host), host
    assert CliRunner().invoke(app, ["dashboard", "--study", str(_study(tmp_path))]).exit_code == 0
    assert "--insecure-no-password" not in execs[0]


def test_insecure_flag_on_loopback_does_not_warn_of_an_open_server(
    execs: list[list[str]], tmp_path: Path
) -> None:
    """The flag only matters off this machine: on 127.0.0.1 the page must not claim otherwise."""
    args = ["dashboard", "--study", str(_study(tmp_path)), "--insecure-no-password"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert "--insecure-no-password" not in execs[0]


def test_delay_grows_per_client_and_is_forgotten() -> None:
    now = [1000.0]
    throttle = auth.LoginThrottle(clock=lambda: now[0])
    assert [throttle.failed("10.0.0.1") for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert throttle.failed("10.0.0.2") == 1.0  # another client starts at the first delay
    now[0] += auth.FORGET_AFTER_SECONDS + 1
    assert throttle.failed("10.0.0.1") == 1.0
    throttle.succeeded("10.0.0.2")
    assert throttle.count("10.0.0.2") == 0
