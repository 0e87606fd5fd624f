"""Signed tokens: forged, stale or malformed ones name nobody, and never raise."""

from __future__ import annotations

import pytest

from digest.models import Subscriber
from digest.tokens import make_token, verify_token

KEY = b"k" * 32
ALICE = Subscriber(id=7, email="alice@example.com")


def lookup(sid: int) -> Subscriber | None:
    return ALICE if sid == ALICE.id else None


def test_a_token_names_its_subscriber() -> None:
    assert verify_token(KEY, make_token(KEY, ALICE), lookup) == ALICE
    assert verify_token(b"other-key" * 4, make_token(KEY, ALICE), lookup) is None


@pytest.mark.parametrize(
    "token",
    ["", ".", "7.", ".abc", "².abc", "٧.abc", "-7.abc", "0.abc", str(2**63) + ".abc",
     "9" * 40 + ".abc", "7.abc", "7 .abc", "x.y.z"],
)  # fmt: skip
def test_malformed_tokens_name_nobody(token: str) -> None:
    assert verify_token(KEY, token, lookup) is None
