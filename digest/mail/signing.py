"""DKIM signatures on outgoing messages, computed with OpenSSL.

Owns: the DKIM-Signature header(s) of a serialised message (RFC 6376,
relaxed/relaxed canonicalisation): always rsa-sha256, and a second ed25519-sha256
signature (RFC 8463) when `[dkim] ed25519_selector` is set; loading the private
keys from the environment (`digest.credentials`) and refusing one that cannot
sign, in one line, before any message is sent (`make_signer`).

Signing is per message but cheap: the RSA/Ed25519 operation is OpenSSL's (through
`cryptography`, ~0.3 ms for RSA-2048 on the 2-core machine, and it releases the
GIL meanwhile, so other sending threads run; dkimpy's pure-Python RSA took ~9 ms
and held it), the keys are parsed once, and `digest.mail.compose` hands over the
body hash it computed from pieces canonicalised once per issue variant
(`body_hash`), so only the ~1 KB of headers is canonicalised per message, and the
signature header's own text up to bh= is made once a second (`_head`). What is
left per message besides the RSA operation is ~15 µs of Python and the ~0.07 ms
hash of the body after the reader's first link.
`sign` without a body hash canonicalises the whole body (notices, tests).

Doesn't own: composing messages (`digest.mail.compose`) or sending them
(`digest.mail.deliver`), nor publishing the public keys (DNS TXT records at
`<selector>._domainkey.<domain>`, the operator's job). dkimpy is not used here:
the tests verify every signed message with it, as an independent implementation.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from digest.config import DkimSettings, Settings
from digest.credentials import ENV_DKIM_ED25519_KEY, ENV_DKIM_KEY, Secrets
from digest.errors import SecretMissing

CRLF = b"\r\n"
MIN_RSA_BITS = 1024  # RFC 8301 3.2: verifiers refuse shorter keys
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb"[ \t]+\r\n")
_FOLD_WIDTH = 76  # header lines of the signature stay under RFC 5322's 78


def relax_body(chunk: bytes) -> bytes:
    """A piece of body in relaxed canonical form (RFC 6376 3.4.4), trailing empty
    lines aside: no WSP before a line end, runs of WSP as one SP. Pieces may be
    canonicalised apart and joined when no run of WSP spans the join."""
    if b" " not in chunk and b"\t" not in chunk:
        return chunk  # base64, and most markup-free lines: nothing to do
    return _WSP_RUN.sub(b" ", _WSP_EOL.sub(CRLF, chunk))


def body_hash(relaxed_chunks: Iterable[bytes], start: hashlib._Hash | None = None) -> bytes:
    """`bh=`: SHA-256 of a body given as pieces already in relaxed form, the last
    ending in CRLF with no empty line before it (as `compose` writes them);
    `start`: a SHA-256 that has already taken the pieces before these."""
    digest = start if start is not None else hashlib.sha256()
    for chunk in relaxed_chunks:
        digest.update(chunk)
    return digest.digest()


def whole_body_hash(body: bytes) -> bytes:
    """`bh=` of any body: relaxed canonicalisation of all of it."""
    canon = relax_body(body)
    while canon.endswith(CRLF + CRLF):
        canon = canon[:-2]
    if canon and not canon.endswith(CRLF):
        canon += CRLF
    if canon == CRLF:
        canon = b""
    return hashlib.sha256(canon).digest()


def _fields(headers: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-case name, relaxed `name:value` CRLF) of each field, in order."""
    fields: list[tuple[bytes, bytes]] = []
    raw: list[bytes] = []
    for line in headers.split(CRLF):
        if line[:1] in (b" ", b"\t") and raw:
            raw[-1] += line  # a folded line: unfolding drops only the CRLF
        elif line:
            raw.append(line)
    for field in raw:
        name, _, value = field.partition(b":")
        name = name.rstrip().lower()
        if b"  " in value or b"\t" in value:  # most values have single spaces only
            value = _WSP_RUN.sub(b" ", value)
        fields.append((name, name + b":" + value.strip(b" \t") + CRLF))
    return fields


def _fold_list(prefix: bytes, items: list[bytes], sep: bytes, column: int) -> bytes:
    """`prefix` then the items joined by `sep`, folded before an item that would
    pass the fold width (FWS is allowed there in every tag we fold)."""
    out = prefix
    for i, item in enumerate(items):
        piece = item + (sep if i < len(items) - 1 else b"")
        if column + len(piece) > _FOLD_WIDTH and column > 1:
            out += CRLF + b" "
            column = 1
        out += piece
        column += len(piece)
    return out


class _Key:
    """One signing key and its selector: `a=` and how it signs."""

    def __init__(self, selector: str, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> None:
        self.selector = selector.encode("ascii")
        self.key = key
        self.algorithm = b"rsa-sha256" if isinstance(key, rsa.RSAPrivateKey) else b"ed25519-sha256"
        self._padding, self._hash = padding.PKCS1v15(), hashes.SHA256()

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, self._padding, self._hash)
        # RFC 8463 3: Ed25519 (pure) over the SHA-256 hash of the signed data.
        return self.key.sign(hashlib.sha256(data).digest())


class Signer:
    """Signs messages for one `[dkim]` configuration; checks the keys on creation."""

    def __init__(
        self, settings: DkimSettings, private_key: bytes, ed25519_key: bytes | None = None
    ) -> None:
        self.settings = settings
        self._domain = settings.domain.encode("idna")
        self._wanted = [h.strip().lower().encode("ascii") for h in settings.headers]
        keys = [_Key(settings.selector, load_rsa_key(private_key))]
        if settings.ed25519_selector:
            if not ed25519_key:
                raise SecretMissing(
                    "[dkim] ed25519_selector is set but no Ed25519 key is: "
                    f"{ENV_DKIM_ED25519_KEY} or its _FILE variant",
                    hint="put the Ed25519 private key (or its path) in .env, "
                    "or remove ed25519_selector",
                )
            keys.append(_Key(settings.ed25519_selector, load_ed25519_key(ed25519_key)))
        # The RSA signature goes on top (prepended last): verifiers that check only
        # the first one, or know no Ed25519, meet RSA first.
        self._keys = keys[::-1]
        self._heads: dict[_Key, tuple[tuple[tuple[bytes, ...], int], bytes, bytes]] = {}

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header(s) prepended (CRLF line ends)."""
        headers, sep, body = message.partition(CRLF + CRLF)
        if not sep:
            headers, body = message, b""
        return self.signatures(headers + CRLF, whole_body_hash(body)) + message

    def signatures(self, headers: bytes, bh: bytes, now: float | None = None) -> bytes:
        """The DKIM-Signature header line(s) to put before a message, given its
        header block (`headers`, CRLF-terminated lines) and body hash (`body_hash`)."""
        fields = _fields(headers)
        # h= lists each wanted header present, once: its last instance, as a
        # verifier takes instances from the bottom up (RFC 6376 5.4.2).
        remaining: dict[bytes, list[bytes]] = {}
        for name, canon in fields:
            remaining.setdefault(name, []).append(canon)
        names: list[bytes] = []
        signed: list[bytes] = []
        for name in self._wanted:
            stack = remaining.get(name)
            if stack:
                names.append(name)
                signed.append(stack.pop())
        covered = b"".join(signed)
        stamp = int(time.time() if now is None else now)
        bh64 = base64.b64encode(bh)
        out = []
        for key in self._keys:
            head, head_relaxed = self._head(key, tuple(names), stamp)
            # The signature header itself, b= empty, relaxed, without its CRLF: the
            # relaxed head (ending in "bh="), then bh='s value (base64: no spaces).
            own = head_relaxed + bh64 + b"; b="
            signature = base64.b64encode(key.sign(covered + own))
            chunks = [signature[i : i + 72] for i in range(0, len(signature), 72)]
            out.append(head + bh64 + b";" + CRLF + b" b=" + (CRLF + b" ").join(chunks) + CRLF)
        return b"".join(out[::-1])  # the last made (RSA) on top

    def _head(self, key: _Key, names: tuple[bytes, ...], stamp: int) -> tuple[bytes, bytes]:
        """The signature header up to `bh=`'s value, folded, and in relaxed form.
        The same for every message signed in one second (only t= changes), so it is
        made once a second per key rather than once per message (~30 µs of Python)."""
        cached = self._heads.get(key)
        if cached is not None and cached[0] == (names, stamp):
            return cached[1], cached[2]
        tags = [b"v=1;", b"a=" + key.algorithm + b";", b"c=relaxed/relaxed;"]
        tags += [b"d=" + self._domain + b";", b"s=" + key.selector + b";", b"t=%d;" % stamp]
        head = _fold_list(b"DKIM-Signature: ", tags, b" ", len(b"DKIM-Signature: "))
        head = _fold_list(head + CRLF + b" h=", list(names), b":", len(b" h="))
        head += b";" + CRLF + b" bh="
        # Relaxed (RFC 6376 3.4.2): unfolded, WSP runs as one SP, no space before the
        # end; "bh=" is last, so it ends in "; bh=" exactly.
        relaxed = _fields(head + b"X" + CRLF)[0][1][: -len(b"X" + CRLF)]
        # A plain dict write: threads signing at once at worst each make the same head.
        self._heads[key] = ((names, stamp), head, relaxed)
        return head, relaxed


def load_rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The RSA private key in `pem`, or SecretMissing in one line saying what is wrong."""
    key = _load_pem(pem, ENV_DKIM_KEY, "an RSA private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SecretMissing(
            f"{ENV_DKIM_KEY} holds a {type(key).__name__.removesuffix('PrivateKey').strip('_')}"
            " key, not an RSA one: the DKIM private key cannot sign",
            hint=f"rsa-sha256 is required; an Ed25519 key goes in {ENV_DKIM_ED25519_KEY}",
        )
    if key.key_size < MIN_RSA_BITS:
        raise SecretMissing(
            f"{ENV_DKIM_KEY} is a {key.key_size}-bit RSA key: the DKIM private key cannot "
            f"sign (verifiers refuse keys under {MIN_RSA_BITS} bits, RFC 8301)",
            hint="make a 2048-bit one: "
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        )
    return key


def load_ed25519_key(data: bytes) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key: PEM (`openssl genpkey -algorithm ed25519`), or the
    base64 32-byte seed that dkimpy's dknewkey writes."""
    text = data.strip()
    if not text.startswith(b"-----"):
        try:
            seed = base64.b64decode(text, validate=True)
        except ValueError:
            seed = b""
        if len(seed) == 32:
            return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    key = _load_pem(data, ENV_DKIM_ED25519_KEY, "an Ed25519 private key")
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SecretMissing(
            f"{ENV_DKIM_ED25519_KEY} holds a key that is not Ed25519: "
            "the DKIM Ed25519 key cannot sign",
            hint="openssl genpkey -algorithm ed25519 makes one",
        )
    return key


def _load_pem(pem: bytes, variable: str, what: str) -> object:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        # cryptography's own message spans lines and names OpenSSL internals.
        raise SecretMissing(
            f"{variable} is not {what} in unencrypted PEM form: the DKIM key cannot sign",
            hint="expected text from -----BEGIN PRIVATE KEY----- (or RSA PRIVATE KEY) to -----END",
        ) from e


def make_signer(settings: Settings, secrets: Secrets) -> Signer | None:
    """A DKIM signer when `[dkim]` is configured (its keys checked now, before sending)."""
    if settings.dkim is None:
        return None
    return Signer(settings.dkim, secrets.require_dkim_key(), secrets.dkim_ed25519_key)
