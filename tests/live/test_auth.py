"""Kalshi request signing (protocol §1) with both key types Kalshi issues, RSA-PSS and Ed25519
(kalshi-protocol.md §0.4: OpenAPI v3.31.0 key type ``rsa|ed25519``, RFC 8032 signatures over the
same pre-sign text), and key hygiene (RELIABILITY §1.10, test plan H1, H3, H4)."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import structlog
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from engine.live.auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WS_PATH,
    ApiKey,
    PublicKey,
    generate_keypair,
    header_check,
    load_public_key,
    missing_header,
    verify_headers,
)
from events.errors import BadInput

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
TS = 1_704_398_400_000


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("keys"), key_type=request.param)


@pytest.fixture(scope="module")
def api_key(keys: tuple[Path, Path]) -> ApiKey:
    return ApiKey.load(KEY_ID, keys[0])


@pytest.fixture(scope="module")
def public(keys: tuple[Path, Path]) -> PublicKey:
    return load_public_key(keys[1])


def secrets_of(pem_path: Path) -> list[str]:
    """Everything that must never show: PEM lines, every 24-char window of the body (H2), the
    secret numbers (RSA) or the 32 secret bytes (Ed25519) in hex and base64, the key id."""
    pem = pem_path.read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        numbers = [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
        secret = [str(x) for x in numbers] + [f"{x:x}" for x in numbers]
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        b64 = base64.b64encode(raw).decode()
        secret = [raw.hex()[i:i + 24] for i in range(0, 41)] + [b64[i:i + 24] for i in range(len(b64) - 23)]
    return ([line for line in pem.splitlines() if line.strip()] + ["PRIVATE KEY", KEY_ID]
            + [body[i:i + 24] for i in range(len(body) - 23)] + secret)


def leaks(text: str, pem_path: Path) -> list[str]:
    return [s for s in secrets_of(pem_path) if s in text]


def flip(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- signing and verification ---


def test_round_trip(api_key: ApiKey, public: PublicKey) -> None:
    h = api_key.headers("GET", WS_PATH, TS)
    assert set(h) == {"KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE"}
    assert h["KALSHI-ACCESS-KEY"] == KEY_ID and h["KALSHI-ACCESS-TIMESTAMP"] == "1704398400000"
    assert verify_headers(public, h, "GET", WS_PATH) is None
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS + 59_999, key_id=KEY_ID) is None
    assert verify_headers(api_key.public_key(), h, "GET", WS_PATH) is None  # derived public key


def raw_verify(public: PublicKey, signature: str, text: str) -> None:
    """With cryptography directly, not through verify_headers: RSA-PSS (MGF1-SHA256, salt 32)
    over SHA-256, or Ed25519 (RFC 8032) over the text itself."""
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(base64.b64decode(signature), text.encode(),
                      padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        assert len(base64.b64decode(signature)) == 64
        public.verify(base64.b64decode(signature), text.encode())


def test_signed_string_is_exactly_timestamp_get_path(api_key: ApiKey, public: PublicKey) -> None:
    raw_verify(public, api_key.headers("GET", WS_PATH, TS)["KALSHI-ACCESS-SIGNATURE"], f"{TS}GET/trade-api/ws/v2")


def test_ed25519_signature_is_rfc8032_deterministic(tmp_path: Path) -> None:
    """RFC 8032 §5.1.6: the same key and text give the same 64-byte signature; RSA-PSS is salted."""
    ed = ApiKey.load(KEY_ID, generate_keypair(tmp_path, "ed", key_type="ed25519")[0])
    assert ed.key_type == "ed25519" and ed.headers("GET", WS_PATH, TS) == ed.headers("GET", WS_PATH, TS)
    rs = ApiKey.load(KEY_ID, generate_keypair(tmp_path, "rs")[0])
    assert rs.key_type == "rsa" and rs.headers("GET", WS_PATH, TS) != rs.headers("GET", WS_PATH, TS)
    with pytest.raises(BadInput, match="rsa or ed25519"):
        generate_keypair(tmp_path, "dsa", key_type="dsa")  # type: ignore[arg-type]


def test_a_key_of_one_type_never_verifies_for_the_other(tmp_path: Path) -> None:
    ed = ApiKey.load(KEY_ID, generate_keypair(tmp_path, "ed", key_type="ed25519")[0])
    rsa_public = load_public_key(generate_keypair(tmp_path, "rs")[1])
    assert verify_headers(rsa_public, ed.headers("GET", WS_PATH, TS), "GET", WS_PATH) == "bad signature"
    assert verify_headers(ed.public_key(), ed.headers("GET", WS_PATH, TS), "GET", WS_PATH) is None


def test_lowercase_method_is_signed_upper(api_key: ApiKey, public: PublicKey) -> None:
    assert verify_headers(public, api_key.headers("get", WS_PATH, TS), "GET", WS_PATH) is None


def test_query_string_is_stripped(api_key: ApiKey, public: PublicKey) -> None:
    path = "/trade-api/v2/portfolio/orders"
    h = api_key.headers("GET", path + "?limit=5", TS)
    raw_verify(public, h[SIGNATURE_HEADER], f"{TS}GET{path}")
    assert verify_headers(public, h, "GET", path) is None
    assert verify_headers(public, h, "GET", path + "?cursor=x") is None


def test_header_names_are_case_insensitive(api_key: ApiKey, public: PublicKey) -> None:
    h = {k.lower(): v for k, v in api_key.headers("GET", WS_PATH, TS).items()}
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: h | {SIGNATURE_HEADER: flip(h[SIGNATURE_HEADER])}, "bad signature"),
        (lambda h: h | {SIGNATURE_HEADER: "not base64!"}, "bad signature"),
        (lambda h: h | {TIMESTAMP_HEADER: str(TS + 1)}, "bad signature"),
        (lambda h: h | {TIMESTAMP_HEADER: "12a"}, "bad timestamp"),
        (lambda h: {k: v for k, v in h.items() if k != SIGNATURE_HEADER}, "missing KALSHI-ACCESS-SIGNATURE"),
        (lambda h: {k: v for k, v in h.items() if k != TIMESTAMP_HEADER}, "missing KALSHI-ACCESS-TIMESTAMP"),
        (lambda h: h | {"KALSHI-ACCESS-KEY": ""}, "missing KALSHI-ACCESS-KEY"),
        (lambda h: h | {"KALSHI-ACCESS-KEY": "other"}, "unknown key id"),
    ],
)
def test_tampered_headers_fail(api_key: ApiKey, public: PublicKey,
                               change: Callable[[dict[str, str]], dict[str, str]], problem: str) -> None:
    h = change(api_key.headers("GET", WS_PATH, TS))
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS, key_id=KEY_ID) == problem


def test_other_key_path_or_method_fail(api_key: ApiKey, tmp_path: Path) -> None:
    h = api_key.headers("GET", WS_PATH, TS)
    other = load_public_key(generate_keypair(tmp_path, key_type=api_key.key_type)[1])
    assert verify_headers(other, h, "GET", WS_PATH) == "bad signature"
    assert verify_headers(api_key.public_key(), h, "GET", "/trade-api/v2/portfolio/orders") == "bad signature"
    assert verify_headers(api_key.public_key(), h, "POST", WS_PATH) == "bad signature"


def test_stale_timestamp_fails_both_ways(api_key: ApiKey, public: PublicKey) -> None:
    h = api_key.headers("GET", WS_PATH, TS)
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS + 60_000) is None
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS + 60_001) == "stale timestamp"
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS - 60_001) == "stale timestamp"
    assert verify_headers(public, h, "GET", WS_PATH, now_ms=TS + 5_001, max_skew_ms=5_000) == "stale timestamp"


def test_path_must_be_absolute(api_key: ApiKey) -> None:
    with pytest.raises(BadInput, match="must start with '/'"):
        api_key.headers("GET", "trade-api/ws/v2", TS)


def test_missing_headers_and_the_servers_check(api_key: ApiKey, public: PublicKey) -> None:
    """A feed server refuses an upgrade without the three headers (kalshi-protocol.md §0.3) and,
    given the public key, one whose signature is not that key's."""
    h = api_key.headers("GET", WS_PATH, TS)
    assert missing_header(h) is None and missing_header({k.lower(): v for k, v in h.items()}) is None
    assert missing_header({}) == "missing KALSHI-ACCESS-KEY"
    assert missing_header({k: v for k, v in h.items() if k != TIMESTAMP_HEADER}) == "missing KALSHI-ACCESS-TIMESTAMP"
    check = header_check(public)
    assert check(h) is None and check(h | {TIMESTAMP_HEADER: str(TS + 1)}) == "bad signature"
    assert header_check(public, max_skew_ms=60_000)(h) == "stale timestamp"  # TS is 2024


# --- loading the key file (H1) ---


def test_generated_private_key_is_0600(keys: tuple[Path, Path]) -> None:
    assert os.stat(keys[0]).st_mode & 0o777 == 0o600


def test_generate_refuses_to_overwrite(keys: tuple[Path, Path]) -> None:
    with pytest.raises(BadInput, match="already exists"):
        generate_keypair(keys[0].parent)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_key_open_to_group_or_others_is_refused(keys: tuple[Path, Path], tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(keys[0].read_bytes())
    path.chmod(mode)
    with pytest.raises(BadInput) as e:
        ApiKey.load(KEY_ID, path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and f"{mode:04o}" in msg and f"chmod 600 {path}" in msg
    assert not leaks(msg, keys[0])


def test_symlink_to_world_readable_key_is_refused(keys: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "real.pem"
    target.write_bytes(keys[0].read_bytes())
    target.chmod(0o644)
    link = tmp_path / "link.pem"
    link.symlink_to(target)
    with pytest.raises(BadInput, match="0644"):
        ApiKey.load(KEY_ID, link)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_key_is_accepted(keys: tuple[Path, Path], tmp_path: Path, mode: int) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(keys[0].read_bytes())
    path.chmod(mode)
    assert ApiKey.load(KEY_ID, path).fingerprint == ApiKey.load(KEY_ID, keys[0]).fingerprint


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"cannot read key file .*nope\.pem"):
        ApiKey.load(KEY_ID, tmp_path / "nope.pem")


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a regular file"):
        ApiKey.load(KEY_ID, tmp_path)


def _private_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.pem"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def test_non_pem_file_is_refused_without_echo(tmp_path: Path) -> None:
    canary = "CANARY-7f3a9e-do-not-echo"
    path = _private_file(tmp_path, f"-----BEGIN PRIVATE KEY-----\n{canary}\n-----END PRIVATE KEY-----\n".encode())
    with pytest.raises(BadInput) as e:
        ApiKey.load(KEY_ID, path)
    assert "not an unencrypted RSA or Ed25519 private key in PEM" in str(e.value) and str(path) in str(e.value)
    assert canary not in str(e.value) and "\n" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__context__ is None


def test_public_encrypted_and_ec_keys_are_refused(keys: tuple[Path, Path], tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(keys[0].read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pw"))
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for data in (keys[1].read_bytes(), encrypted, ec_pem, b"\x00\xff" * 100):
        with pytest.raises(BadInput, match="not an unencrypted RSA or Ed25519 private key"):
            ApiKey.load(KEY_ID, _private_file(tmp_path, data))


def test_load_public_key_refuses_non_public_pem(keys: tuple[Path, Path]) -> None:
    with pytest.raises(BadInput, match="not an RSA or Ed25519 public key in PEM"):
        load_public_key(keys[0])


def test_bad_key_id_is_refused(keys: tuple[Path, Path]) -> None:
    for bad in ("", " id", "id\r\nX-Evil: 1"):
        with pytest.raises(BadInput, match="key id"):
            ApiKey.load(bad, keys[0])


# --- redaction (H3) ---


def test_repr_and_str_show_only_prefix_and_fingerprint(api_key: ApiKey, keys: tuple[Path, Path]) -> None:
    assert leaks(keys[0].read_text(), keys[0]) and leaks(f"id={KEY_ID}", keys[0])  # the detector works
    for text in (repr(api_key), str(api_key), f"{api_key}", repr([api_key]), repr({"k": api_key})):
        assert "a952bcbe" in text and api_key.fingerprint in text and api_key.key_type in text
        assert not leaks(text, keys[0]), text
    assert api_key.fingerprint.startswith("sha256:") and len(api_key.fingerprint) == 7 + 16


def test_cannot_be_pickled_copied_or_encoded(api_key: ApiKey, keys: tuple[Path, Path]) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: pickle.dumps(api_key),
        lambda: pickle.dumps(api_key, protocol=0),
        lambda: copy.copy(api_key),
        lambda: copy.deepcopy(api_key),
        lambda: json.dumps(api_key),
        lambda: json.dumps({"key": api_key}),
        lambda: msgspec.json.encode(api_key),
        lambda: msgspec.msgpack.encode([api_key]),
    ]
    for attempt in attempts:
        with pytest.raises(TypeError) as e:
            attempt()
        assert not leaks(str(e.value), keys[0])


def test_structlog_output_has_no_key_material(api_key: ApiKey, keys: tuple[Path, Path]) -> None:
    for renderer in (structlog.processors.JSONRenderer(), structlog.dev.ConsoleRenderer(colors=False)):
        out = io.StringIO()
        log = structlog.wrap_logger(
            structlog.PrintLogger(file=out),
            processors=[structlog.processors.add_log_level, structlog.processors.format_exc_info, renderer],
        )
        log.info("key.loaded", key=api_key, keys=[api_key])
        try:
            api_key.headers("GET", "relative", TS)
        except BadInput:
            log.exception("sign.failed", key=api_key)
        text = out.getvalue()
        assert "key.loaded" in text and "sign.failed" in text and api_key.fingerprint in text
        assert not leaks(text, keys[0]), text
