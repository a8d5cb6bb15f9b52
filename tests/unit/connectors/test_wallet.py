from __future__ import annotations

import stat

import pytest

from connectors.wallet import KeyFile, MasterKey, SecretBox, WalletError


def test_seal_and_open_round_trip_with_fresh_nonces():
    box = SecretBox(MasterKey.generate())
    a, b = box.seal(b"pw", "user:a"), box.seal(b"pw", "user:a")
    assert a != b  # a fresh nonce per write
    assert box.open(a, "user:a") == b"pw" == box.open(b, "user:a")
    assert b"pw" not in a


def test_a_value_moved_to_another_row_fails():
    box = SecretBox(MasterKey.generate())
    sealed = box.seal(b"pw", "user:a")
    with pytest.raises(WalletError, match="altered"):
        box.open(sealed, "user:b")


def test_tampering_and_wrong_key_fail_clearly():
    box = SecretBox(MasterKey.generate())
    sealed = bytearray(box.seal(b"pw", "user:a"))
    sealed[-1] ^= 1
    with pytest.raises(WalletError):
        box.open(bytes(sealed), "user:a")
    with pytest.raises(WalletError, match="wrong wallet key"):
        SecretBox(MasterKey.generate()).open(box.seal(b"pw", "user:a"), "user:a")
    with pytest.raises(WalletError, match="format"):
        box.open(b"junk", "user:a")


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "k" / "wallet.key"
    key = MasterKey.generate()
    KeyFile(path).create(key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyFile(path).load().current == key
    with pytest.raises(FileExistsError):
        KeyFile(path).create(MasterKey.generate())
    assert "key=" not in repr(key)


def test_bad_keys_are_clear_errors(tmp_path):
    with pytest.raises(WalletError, match="omgw init"):
        KeyFile(tmp_path / "missing").load()
    with pytest.raises(WalletError, match="base64"):
        MasterKey.from_b64("not base64!!")
    with pytest.raises(WalletError, match="32 bytes"):
        MasterKey.from_b64("c2hvcnQ=")
