"""The password-login crypto of docs/platform-api.md §3.1: AES-128-CBC password, SHA-256 signatures.

Pure functions, no I/O. The client encrypts and signs; the simulator decrypts and checks::

    random_str = new_random()
    pwd = encrypt_password("china1234", random_str)
    signature = email_login_signature("ops@example.org", pwd, random_str, domain_secret)
    # send email, pwd, random=random_str, userDomain, signature

The AES key is derived from the random string alone, so `pwd` together with `random` reveals the
password: neither belongs in a log line. Signatures cover the raw values, before URL-encoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

#: length of the login `random`: the login pages set none, the SMS endpoint wants 16 (§3.1)
RANDOM_LENGTH = 16
_RANDOM_ALPHABET = string.ascii_letters + string.digits
_BLOCK_BITS = 128


def new_random() -> str:
    """16 fresh [A-Za-z0-9] characters from `secrets`, for one login."""
    return "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(RANDOM_LENGTH))


def random_md5(random_str: str) -> str:
    """`M`: the MD5 of UTF-8(random) as 32 uppercase hex characters."""
    return hashlib.md5(random_str.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def derive_key_iv(random_str: str) -> tuple[bytes, bytes]:
    """(key, iv): key = ASCII of M[8:24] (not hex-decoded); iv = its two 8-byte halves swapped.

    >>> derive_key_iv("j1acpdj2bmtqZXVb")
    (b'89A049614445CCA8', b'4445CCA889A04961')
    """
    key = random_md5(random_str)[8:24].encode("ascii")
    return key, key[8:16] + key[0:8]


def _cipher(random_str: str) -> Cipher[modes.CBC]:
    # cryptography is imported here, not at the top: only a login needs it, a run with a token does not
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, iv = derive_key_iv(random_str)
    return Cipher(algorithms.AES128(key), modes.CBC(iv))


def encrypt_password(password: str, random_str: str) -> str:
    """`C`, the login's `pwd`: AES-128-CBC of UTF-8(password), PKCS#7, standard Base64 with padding."""
    from cryptography.hazmat.primitives import padding

    padder = padding.PKCS7(_BLOCK_BITS).padder()
    padded = padder.update(password.encode("utf-8")) + padder.finalize()
    encryptor = _cipher(random_str).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt_password(encrypted: str, random_str: str) -> str:
    """The inverse of `encrypt_password`; ValueError if `encrypted` is not one of its outputs for `random_str`."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
        raise ValueError("encrypted password is not valid Base64") from exc
    if not raw or len(raw) % (_BLOCK_BITS // 8):
        raise ValueError("encrypted password is not a whole number of AES blocks")
    from cryptography.hazmat.primitives import padding

    decryptor = _cipher(random_str).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK_BITS).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except ValueError as exc:  # bad padding, or UnicodeDecodeError: the wrong random or garbage
        raise ValueError("encrypted password does not decrypt with this random string") from exc


def sha256_hex(*parts: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 concatenation of `parts`, no separators."""
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def email_login_signature(email: str, encrypted_pwd: str, random_str: str, domain_secret: str) -> str:
    """emailPwdLogin's `signature`: SHA-256 hex of email + C + R + S (C = the encrypted password)."""
    return sha256_hex(email, encrypted_pwd, random_str, domain_secret)


def phone_login_signature(
    international_code: str, phone: str, encrypted_pwd: str, random_str: str, domain_secret: str
) -> str:
    """phonePwdLogin's `signature`: SHA-256 hex of internationalCode + phone + C + R + S."""
    return sha256_hex(international_code, phone, encrypted_pwd, random_str, domain_secret)
