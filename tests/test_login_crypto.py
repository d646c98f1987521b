"""The login crypto against every worked example of docs/platform-api.md §3.2, plus round trips."""

from __future__ import annotations

import re

import pytest

from runner.platform.auth.crypto import (
    RANDOM_LENGTH,
    decrypt_password,
    derive_key_iv,
    email_login_signature,
    encrypt_password,
    new_random,
    phone_login_signature,
    random_md5,
    sha256_hex,
)

#: the docs' example user-domain secret (the `…VM22` one that reproduces their curl signatures)
DOC_SECRET = "57Fk69oYgbs2aWWN362NtZwYB2RqKNqQ7yZESnF5VM22"
AES2_C = "KbbO5AsWloh9gulLei6NhQ=="


# --- AES-1 and AES-2 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("random_str", "md5", "key", "iv"),
    [
        ("j1acpdj2bmtqZXVb", "82EC643489A049614445CCA88018CFF0", b"89A049614445CCA8", b"4445CCA889A04961"),  # AES-1
        ("abcdef", "E80B5017098950FC58AAD83C8C14978E", b"098950FC58AAD83C", b"58AAD83C098950FC"),  # AES-2
    ],
)
def test_key_and_iv_are_the_ascii_of_the_md5_slice_with_halves_swapped(
    random_str: str, md5: str, key: bytes, iv: bytes
) -> None:
    assert random_md5(random_str) == md5
    assert derive_key_iv(random_str) == (key, iv)


def test_aes1_encrypts_the_documented_password() -> None:
    assert encrypt_password("china1234", "j1acpdj2bmtqZXVb") == "lkZMvj0KDSJXlp66jBieHA=="


def test_aes2_encrypts_and_decrypts_back() -> None:
    assert encrypt_password("abcd1234", "abcdef") == AES2_C
    assert decrypt_password(AES2_C, "abcdef") == "abcd1234"


# --- signatures ---------------------------------------------------------------------------------


def test_sig_phone_signs_the_encrypted_password() -> None:
    expected = "1fd91ebf096be51dae1c6055bc930bd8e24b1f477d2a47ae87eedb0f73057bf0"
    assert phone_login_signature("86", "17132136550", AES2_C, "abcdef", DOC_SECRET) == expected
    assert phone_login_signature("86", "17132136550", "abcd1234", "abcdef", DOC_SECRET) != expected  # not plaintext


def test_sig_email() -> None:
    expected = "cf04c3ee54ef1a676175c1a1ec1ab686a7c97951a597b0d65ea0d24e1dad71f4"
    assert email_login_signature("user@example.com", AES2_C, "abcdef", DOC_SECRET) == expected


def test_sig_sms_is_a_plain_concatenation_hash() -> None:
    expected = "2deb6518ca0ee701e28a6359a91270c59dbe69456a3336dc5f625bfa32e64df6"
    assert sha256_hex("17132136550", "3", "76a6L647F02CAoN9", "1744773894369", DOC_SECRET) == expected


def test_sha256_hex_of_nothing_is_the_empty_string_hash() -> None:
    # The docs' broken sendPhoneSmsCode example gives exactly this value (§3.2).
    assert sha256_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha256_hex("ab", "c") == sha256_hex("abc")


# --- random strings and round trips -------------------------------------------------------------


def test_new_random_is_16_fresh_alphanumerics() -> None:
    values = {new_random() for _ in range(50)}
    assert len(values) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", value) for value in values)
    assert RANDOM_LENGTH == 16


@pytest.mark.parametrize("password", ["", "a", "exactly16bytes!!", "Sharebatch1", "pässwörd-ünïcode", "x" * 40])
def test_encrypt_then_decrypt_round_trips(password: str) -> None:
    random_str = new_random()
    encrypted = encrypt_password(password, random_str)
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", encrypted)
    assert len(encrypted) % 4 == 0
    assert decrypt_password(encrypted, random_str) == password


def test_the_same_password_encrypts_differently_under_another_random() -> None:
    assert encrypt_password("abcd1234", "abcdef") != encrypt_password("abcd1234", "abcdeg")


@pytest.mark.parametrize(
    ("encrypted", "random_str"),
    [
        ("", "abcdef"),  # nothing
        ("not base64!", "abcdef"),
        ("KbbO5AsWloh9gulLei6NhQ", "abcdef"),  # Base64 padding missing
        ("QUJD", "abcdef"),  # 3 bytes: not a whole AES block
        ("KbbO5AsWloh9gulLei6NhQ==", "j1acpdj2bmtqZXVb"),  # right cipher text, wrong random
        ("lkZMvj0KDSJXlp66jBieHA==", "abcdef"),
        ("ümlaut==", "abcdef"),
    ],
)
def test_decrypt_refuses_garbage_with_value_error(encrypted: str, random_str: str) -> None:
    with pytest.raises(ValueError, match="encrypted password"):
        decrypt_password(encrypted, random_str)
