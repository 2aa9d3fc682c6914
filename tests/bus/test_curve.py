"""CURVE key files and the Security value: what is written, what is refused, and why."""

from __future__ import annotations

import stat

import pytest
import zmq
import zmq.auth

from bus.curve import (
    Keypair,
    Security,
    SecurityError,
    authorized_keys,
    generate_keys,
    load_keypair,
    load_public,
)


def test_generate_keys_writes_public_and_private_files(tmp_path):
    keys = tmp_path / "keys"
    written = generate_keys(keys, ["gate-1", "control"])
    assert written == [keys / "gate-1.key", keys / "control.key"]
    for name in ("gate-1", "control"):
        assert stat.S_IMODE((keys / f"{name}.key_secret").stat().st_mode) == 0o600
        assert "secret-key" not in (keys / f"{name}.key").read_text()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700


def test_generated_keys_load_back_and_match_zmq_format(tmp_path):
    generate_keys(tmp_path, ["gate"])
    pair = load_keypair(tmp_path, "gate")
    assert load_public(tmp_path, "gate") == pair.public
    assert zmq.auth.load_certificate(tmp_path / "gate.key_secret") == (pair.public, pair.secret)
    assert zmq.curve_public(pair.secret) == pair.public
    assert pair.secret.decode() not in repr(pair)


def test_generate_keys_refuses_to_overwrite_unless_asked(tmp_path):
    generate_keys(tmp_path, ["gate"])
    before = load_public(tmp_path, "gate")
    with pytest.raises(SecurityError, match="exists"):
        generate_keys(tmp_path, ["gate"])
    generate_keys(tmp_path, ["gate"], overwrite=True)
    assert load_public(tmp_path, "gate") != before


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "x" * 65, "sp ace"])
def test_generate_keys_refuses_unsafe_names(tmp_path, name):
    with pytest.raises(SecurityError, match="key name"):
        generate_keys(tmp_path, [name])


def test_load_keypair_refuses_secret_readable_by_others(tmp_path):
    generate_keys(tmp_path, ["gate"])
    (tmp_path / "gate.key_secret").chmod(0o644)
    with pytest.raises(SecurityError, match="chmod 600"):
        load_keypair(tmp_path, "gate")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "No public key"),
        ('curve\n    public-key = "short"\n', "40 bytes"),
        ('curve\n    public-key = "' + "~" * 40 + '"\n', "Z85"),
    ],
)
def test_load_public_refuses_bad_files(tmp_path, content, error):
    (tmp_path / "bad.key").write_text(content)
    with pytest.raises(SecurityError, match=error):
        load_public(tmp_path, "bad")


def test_missing_files_and_directories_are_named(tmp_path):
    with pytest.raises(SecurityError, match="does not exist"):
        load_public(tmp_path, "nobody")
    with pytest.raises(SecurityError, match="does not exist"):
        load_keypair(tmp_path, "nobody")
    with pytest.raises(SecurityError, match="does not exist"):
        authorized_keys(tmp_path / "missing")


def test_load_keypair_refuses_a_public_only_file(tmp_path):
    generate_keys(tmp_path, ["gate"])
    (tmp_path / "gate.key_secret").unlink()
    (tmp_path / "gate.key_secret").write_text((tmp_path / "gate.key").read_text())
    (tmp_path / "gate.key_secret").chmod(0o600)
    with pytest.raises(SecurityError, match="no secret-key"):
        load_keypair(tmp_path, "gate")


def test_authorized_keys_reads_only_public_files(tmp_path):
    generate_keys(tmp_path, ["a", "b"])
    assert authorized_keys(tmp_path) == {load_public(tmp_path, "a"), load_public(tmp_path, "b")}


def test_keypair_refuses_malformed_keys():
    with pytest.raises(SecurityError):
        Keypair(b"x" * 40, b"y")


def test_security_requires_the_keys_of_its_role(tmp_path):
    generate_keys(tmp_path, ["gate"])
    pair = load_keypair(tmp_path, "gate")
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    try:
        with pytest.raises(SecurityError, match="server_public"):
            Security.curve(pair).configure_client(socket)
        with pytest.raises(SecurityError, match="authorized_dir"):
            Security.curve(pair).configure_server(socket)
        with pytest.raises(SecurityError):
            Security.curve(pair, server_public=b"not a key")
        Security.development().configure_client(socket)
        assert socket.mechanism == zmq.NULL
        Security.curve(pair, server_public=pair.public).configure_client(socket)
        assert socket.mechanism == zmq.CURVE
    finally:
        socket.close(0)
        context.term()


def test_development_is_the_only_plain_security():
    assert not Security.development().is_curve
    assert Security.development().keypair is None
