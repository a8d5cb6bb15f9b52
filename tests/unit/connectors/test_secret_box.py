from __future__ import annotations

import stat

import pytest

from connectors.connector_errors import WalletError
from connectors.secret_box import Credential, KeyFile, Keyring, MasterKey, SecretBox


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


def test_key_text_carries_its_version():
    key = MasterKey.generate(version=3)
    again = MasterKey.from_b64(key.to_text())
    assert again == key and again.version == 3
    assert MasterKey.from_b64(key.to_b64()).version == 1  # bare base64 is version 1


def test_a_keyring_opens_what_any_of_its_keys_sealed():
    old, new = MasterKey.generate(1), MasterKey.generate(2)
    sealed_old = SecretBox(old).seal(b"pw", "x")
    ring = SecretBox(Keyring(new, [old]))
    assert ring.open(sealed_old, "x") == b"pw"
    assert SecretBox.sealed_version(ring.seal(b"pw", "x")) == 2
    with pytest.raises(WalletError, match="version 1, which is not loaded"):
        SecretBox(new).open(sealed_old, "x")
    with pytest.raises(WalletError, match="two different wallet keys"):
        Keyring(new, [MasterKey.generate(2)])


def test_the_key_version_is_authenticated():
    box = SecretBox(Keyring(MasterKey.generate(2), [MasterKey.generate(1)]))
    sealed = bytearray(box.seal(b"pw", "x"))
    sealed[2] = 1  # claim the other key
    with pytest.raises(WalletError, match="altered"):
        box.open(bytes(sealed), "x")


def test_rotation_files_survive_interruption(tmp_path):
    key_file = KeyFile(tmp_path / "wallet.key")
    key_file.create(MasterKey.generate())
    pending = key_file.begin_rotation()
    assert pending.version == 2
    assert stat.S_IMODE(key_file.next_path.stat().st_mode) == 0o600
    # Interrupted here: both keys load, and a rerun picks the same pending key.
    assert key_file.load().versions == [1, 2]
    assert key_file.begin_rotation() == pending
    key_file.finish_rotation(pending)
    assert not key_file.next_path.exists()
    ring = key_file.load()
    assert ring.current == pending and ring.versions == [2]
    assert stat.S_IMODE(key_file.path.stat().st_mode) == 0o600


def test_a_loose_key_file_is_warned_about(tmp_path, caplog):
    path = tmp_path / "wallet.key"
    KeyFile(path).create(MasterKey.generate())
    path.chmod(0o644)
    KeyFile(path).load()
    assert "readable by others" in caplog.text and "chmod 600" in caplog.text


def test_credentials_never_show_their_secrets():
    cred = Credential("svc", "Pw-123456", "-----BEGIN CERTIFICATE-----", "-----BEGIN KEY-----")
    assert "Pw-123456" not in repr(cred) and "BEGIN" not in repr(cred)
    assert Credential.from_bytes(cred.to_bytes()) == cred
    with pytest.raises(WalletError, match="not a credential"):
        Credential.from_bytes(b"[]")
