"""Kalshi request signing: the API key, the three KALSHI-ACCESS-* headers, and their verification.

The private key is the system's only secret (RELIABILITY §1.10). It lives only inside ``ApiKey``:
loading refuses a key file that group or others may read or write (the OpenSSH rule), no error
message echoes file content, and ``repr``/``str`` show a key-id prefix and a public-key
fingerprint only. Pickling is refused so the key cannot leak into a tape, a cache or a subprocess.

Signature (kalshi-protocol §1, §0.4) over the UTF-8 string ``timestamp_ms + METHOD + path``, with
the query string stripped from the path (for the WebSocket upgrade ``f"{ts}GET/trade-api/ws/v2"``),
base64 in the header. Kalshi's API keys are of two types (OpenAPI v3.31.0 key type
``rsa|ed25519``): an RSA key signs with RSA-PSS (SHA-256, MGF1-SHA-256, salt 32 bytes); an
Ed25519 key signs "the same pre-sign text" with Ed25519 (RFC 8032, deterministic, 64 bytes).
Both load from unencrypted PEM (PKCS#8 private keys, SubjectPublicKeyInfo public keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shlex
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from events.errors import BadInput

WS_PATH = "/trade-api/ws/v2"
KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"
_MAX_KEY_FILE = 64 * 1024  # a 4096-bit PEM key is ~3.3 KiB; anything far bigger is not a key
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)

KeyType = Literal["rsa", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)


def signed_message(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """The exact bytes Kalshi signs: timestamp + METHOD + path without its query string."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def key_type(key: PrivateKey | PublicKey) -> KeyType:
    return "rsa" if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) else "ed25519"


def sign(key: PrivateKey, message: bytes) -> bytes:
    """The signature of ``message`` by ``key``: RSA-PSS/SHA-256 or Ed25519 by the key's type."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, _PSS, hashes.SHA256())
    return key.sign(message)


def verify(key: PublicKey, signature: bytes, message: bytes) -> None:
    """Raises ``InvalidSignature`` unless ``signature`` is ``key``'s over ``message``."""
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, _PSS, hashes.SHA256())
    else:
        key.verify(signature, message)


def fingerprint(public_key: PublicKey) -> str:
    """A short, stable name for a key pair: sha256 of the DER SubjectPublicKeyInfo, 16 hex digits."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]


def _read_key_file(path: Path, what: str, *, private: bool) -> bytes:
    """Read a small key file through one descriptor, so the mode checked is that of the file read.

    A private key's mode is checked before a byte is read: a refused key is never in memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: a FIFO must not hang us
    except OSError as e:
        raise BadInput(f"cannot read {what} {path}: {e.strerror or type(e).__name__}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{what} {path} is not a regular file")
        if private and st.st_mode & 0o077:
            raise BadInput(f"{what} {path} has mode {stat.S_IMODE(st.st_mode):04o}, open to group or others; "
                           f"run: chmod 600 {shlex.quote(str(path))}")
        if st.st_size > _MAX_KEY_FILE:
            raise BadInput(f"{what} {path} is {st.st_size} bytes, too big for a PEM key")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(_MAX_KEY_FILE + 1)
    finally:
        os.close(fd)


class ApiKey:
    """A Kalshi API key id and its private key (RSA or Ed25519); signs requests and never
    reveals the key.

    Build it with ``ApiKey.load``. The object cannot be pickled, copied or JSON-encoded.
    """

    __slots__ = ("_fingerprint", "_private", "key_id")

    def __init__(self, key_id: str, private_key: PrivateKey) -> None:
        if not key_id or not key_id.isprintable() or key_id != key_id.strip():
            raise BadInput("API key id must be a non-empty printable string without surrounding spaces")
        if not isinstance(private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise BadInput("API key must be an RSA or Ed25519 private key")
        self.key_id = key_id
        self._private = private_key
        self._fingerprint = fingerprint(private_key.public_key())

    @classmethod
    def load(cls, key_id: str, pem_path: Path) -> ApiKey:
        """Load an unencrypted RSA or Ed25519 private key in PEM; refuse a file group or others
        can access."""
        pem_path = Path(pem_path)
        data = _read_key_file(pem_path, "key file", private=True)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None  # the library's message is dropped: it could quote the file
        del data  # no traceback formatter that shows locals may find the PEM below
        if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise BadInput(f"key file {pem_path} is not an unencrypted RSA or Ed25519 private key in PEM format")
        return cls(key_id, key)

    @property
    def key_type(self) -> KeyType:
        return key_type(self._private)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def public_key(self) -> PublicKey:
        return self._private.public_key()

    def headers(self, method: str, path: str, now_ms: int) -> dict[str, str]:
        """The three KALSHI-ACCESS-* headers for one request at ``now_ms`` (Unix milliseconds)."""
        if not path.startswith("/"):
            raise BadInput(f"path to sign must start with '/': {path.split('?', 1)[0]!r}")
        signature = sign(self._private, signed_message(now_ms, method, path))
        return {
            KEY_HEADER: self.key_id,
            TIMESTAMP_HEADER: str(now_ms),
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
        }

    def __repr__(self) -> str:
        shown = self.key_id[: min(8, len(self.key_id) // 2)]
        return f"ApiKey(key_id={shown + '…'!r}, type={self.key_type!r}, fingerprint={self._fingerprint!r})"

    __str__ = __repr__

    def _refuse(self, *_: Any) -> NoReturn:
        raise TypeError("ApiKey holds a private key and cannot be pickled, copied or serialized")

    __reduce__ = __reduce_ex__ = __getstate__ = __copy__ = __deepcopy__ = _refuse


def missing_header(headers: Mapping[str, str]) -> str | None:
    """The first of the three KALSHI-ACCESS-* headers that is absent or empty (names are
    case-insensitive), as a short problem; None when all three are there."""
    found = {k.lower(): v for k, v in headers.items()}
    for name in HEADERS:
        if not found.get(name.lower()):
            return f"missing {name}"
    return None


def header_check(public_key: PublicKey, *, max_skew_ms: int | None = None) -> Callable[[Mapping[str, str]], str | None]:
    """A feed server's upgrade check: the headers must sign ``GET /trade-api/ws/v2`` with the
    key whose public half is ``public_key`` (and, with ``max_skew_ms``, be that fresh)."""

    def check(headers: Mapping[str, str]) -> str | None:
        now = None if max_skew_ms is None else int(time.time() * 1000)
        return verify_headers(public_key, headers, "GET", WS_PATH, now_ms=now, max_skew_ms=max_skew_ms or 0)

    return check


def verify_headers(
    public_key: PublicKey,
    headers: Mapping[str, str],
    method: str,
    path: str,
    *,
    now_ms: int | None = None,
    max_skew_ms: int = 60_000,
    key_id: str | None = None,
) -> str | None:
    """None when the headers carry a valid signature for ``method path``, else a short problem.

    Header names are matched case-insensitively. With ``now_ms`` the timestamp must also lie within
    ``max_skew_ms`` of it (either side); with ``key_id`` the key header must equal it. A fake
    server uses this to check what a real client sends.
    """
    problem = missing_header(headers)
    if problem is not None:
        return problem
    found = {k.lower(): v for k, v in headers.items()}
    if key_id is not None and found[KEY_HEADER.lower()] != key_id:
        return "unknown key id"
    ts = found[TIMESTAMP_HEADER.lower()]
    if not (ts.isascii() and ts.isdigit()):
        return "bad timestamp"
    if now_ms is not None and abs(now_ms - int(ts)) > max_skew_ms:
        return "stale timestamp"
    try:
        signature = base64.b64decode(found[SIGNATURE_HEADER.lower()], validate=True)
        verify(public_key, signature, signed_message(ts, method, path))
    except (InvalidSignature, binascii.Error, ValueError):
        return "bad signature"
    return None


def load_public_key(path: Path) -> PublicKey:
    """Load an RSA or Ed25519 public key in PEM (SubjectPublicKeyInfo), e.g. for a fake server
    that verifies."""
    data = _read_key_file(Path(path), "public key file", private=False)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise BadInput(f"public key file {path} is not an RSA or Ed25519 public key in PEM format")
    return key


def generate_keypair(directory: Path, name: str = "kalshi-key", key_type: KeyType = "rsa") -> tuple[Path, Path]:
    """Write a fresh key pair for tests and the demo: ``NAME.pem`` (0600) and ``NAME.pub.pem``;
    ``key_type`` ``rsa`` (2048 bits) or ``ed25519``.

    Refuses to overwrite an existing private key file.
    """
    directory = Path(directory)
    private_path, public_path = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    key: PrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise BadInput(f"key type {key_type!r}: rsa or ed25519")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BadInput(f"key file {private_path} already exists; not overwriting it") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # the umask can only narrow the mode; make it exact anyway
        f.write(pem)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path
