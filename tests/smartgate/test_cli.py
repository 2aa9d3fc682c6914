"""The `smartgate` command: exit codes, one-line errors, `config check` and `keys`, run as real processes."""

from __future__ import annotations

import argparse
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smartgate import cli
from smartgate.site import MAX_SITE_FILE_BYTES, bundled_site_path
from tests.smartgate.test_site import endpoints, write_site

SCRIPT = Path(sys.executable).parent / "smartgate"


def smartgate(*args: str | Path, cwd: Path, module: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (or ``python -m smartgate.cli``) in ``cwd``."""
    head = [sys.executable, "-m", "smartgate.cli"] if module or not SCRIPT.exists() else [str(SCRIPT)]
    return subprocess.run([*head, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("module", [False, True], ids=["script", "module"])
def test_config_check_accepts_the_bundled_site(tmp_path: Path, module: bool) -> None:
    done = smartgate("config", "check", bundled_site_path(), cwd=tmp_path, module=module)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"OK {bundled_site_path()}: site huu-nghi-1119, 2 lanes, 8 cameras\n"
    assert all(line.startswith("warning: ") for line in done.stderr.splitlines())
    assert "warning: bus.keys_dir: folder " in done.stderr


def test_config_check_defaults_to_the_bundled_site(tmp_path: Path) -> None:
    done = smartgate("config", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK {bundled_site_path()}: site huu-nghi-1119")


def _bad_endpoint(data: dict[str, Any]) -> None:
    endpoints(data)["publish"] = "udp://127.0.0.1:1"


def _development(data: dict[str, Any]) -> None:
    data["bus"]["security"] = "development"


@pytest.mark.parametrize(("content", "expected"), [
    (_bad_endpoint, "bus.endpoints.publish: endpoint must be tcp://host:port or ipc:///path"),
    (_development, "bus.security: 'development' turns CURVE encryption off"),
    (b"site: [\n", "line 2: did not find expected node content"),
    (b"# " + b"x" * MAX_SITE_FILE_BYTES, "larger than 1024 KiB, refused"),
    (None, "not found"),
], ids=["bad endpoint", "insecure", "yaml syntax", "huge", "missing"])
def test_config_check_rejects_with_one_line_and_exit_2(tmp_path: Path, content: Any, expected: str) -> None:
    path = tmp_path / "site.yaml"
    if callable(content):
        write_site(tmp_path, content)
    elif content is not None:
        path.write_bytes(content)
    done = smartgate("config", "check", path, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"smartgate: error: {path}: {expected}"), done.stderr


@pytest.mark.parametrize("args", [
    [], ["no-such-command"], ["config"], ["config", "check", "a.yaml", "b.yaml"], ["keys", "--names"],
    ["--log-level", "LOUD", "config", "check"],
])
def test_bad_command_lines_exit_2_with_argparse_message(tmp_path: Path, args: list[str]) -> None:
    done = smartgate(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert "error:" in done.stderr.splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_help_lists_the_registered_commands(tmp_path: Path) -> None:
    done = smartgate("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "config" in done.stdout
    assert "keys" in done.stdout


def test_keys_writes_the_site_components_then_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    assert cli.main(["keys", "--dir", str(keys)]) == 0
    names = ["broker", "journal", "clearance", "lane-in-1", "gate-in-1", "lane-out-1", "gate-out-1", "planner", "yard",
             "field-devices", "api", "demo"]
    assert sorted(p.name for p in keys.iterdir()) == sorted(
        [f"{n}.key" for n in names] + [f"{n}.key_secret" for n in names])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.glob("*.key_secret"))
    first = (keys / "clearance.key_secret").read_bytes()
    assert "wrote 12 key pairs" in capsys.readouterr().out

    assert cli.main(["keys", "--dir", str(keys)]) == 0
    assert "kept existing keys: broker journal clearance" in capsys.readouterr().out
    assert (keys / "clearance.key_secret").read_bytes() == first

    assert cli.main(["keys", "--dir", str(keys), "--names", "clearance", "--overwrite"]) == 0
    assert (keys / "clearance.key_secret").read_bytes() != first


def test_keys_default_to_the_site_keys_dir(tmp_path: Path) -> None:
    site = write_site(tmp_path, lambda d: d["bus"].__setitem__("keys_dir", str(tmp_path / "site-keys")))
    done = smartgate("keys", "--site", site, "--names", "api", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site-keys" / "api.key").is_file()


def test_keys_with_a_bad_name_fail_with_one_line(tmp_path: Path) -> None:
    done = smartgate("keys", "--dir", tmp_path / "k", "--names", "../evil", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("smartgate: error: key name must match")


def test_keys_with_an_invalid_site_exit_2(tmp_path: Path) -> None:
    site = write_site(tmp_path, _development)
    done = smartgate("keys", "--site", site, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"smartgate: error: {site}: bus.security: ")


# --- the registry -----------------------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, ...], cli.Command]:
    """A copy of the command registry that the test may extend."""
    commands = dict(cli.COMMANDS)
    monkeypatch.setattr(cli, "COMMANDS", commands)
    return commands


def test_registered_commands_nest_and_receive_their_arguments(
        registry: dict[tuple[str, ...], cli.Command], capsys: pytest.CaptureFixture[str]) -> None:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--count", type=int, required=True)

    @cli.command("report show", "print a report", arguments)
    def _show(args: argparse.Namespace) -> int:
        print(f"count={args.count}")
        return 3

    assert ("report", "show") in registry
    assert cli.main(["report", "show", "--count", "7"]) == 3
    assert capsys.readouterr().out == "count=7\n"


def test_unexpected_exception_is_one_line_and_exit_1(
        registry: dict[tuple[str, ...], cli.Command], capsys: pytest.CaptureFixture[str]) -> None:
    @cli.command("explode", "fail on purpose")
    def _explode(args: argparse.Namespace) -> int:
        raise RuntimeError("boom\nsecond line")

    assert cli.main(["explode"]) == 1
    err = capsys.readouterr().err
    assert err == "smartgate: error: unexpected RuntimeError: boom second line (--log-level debug shows the " \
                  "traceback)\n"


def test_a_command_cannot_be_registered_twice(registry: dict[tuple[str, ...], cli.Command]) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        cli.command("keys", "again")(lambda args: 0)
