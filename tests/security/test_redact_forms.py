"""Issue 14 item 6: the Redactor masks every secret in the encodings it could be echoed
in, computed here independently (tests/security/hostile.py `encodings`)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from ci_trainer.redact import MASK, Redactor
from security.hostile import encodings

SECRETS = [
    "Hx/se+cr3t \"q'u\\o%te&k=v \u00fc~9",
    "plain-alnum-secret-123456",
    "tab\there and 'quotes' only",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_encoding_is_masked_wherever_it_sits(secret: str) -> None:
    redactor = Redactor([secret])
    for name, form in encodings(secret, "some-client-id").items():
        for text in (form, f"before {form} after", f'{{"detail": "{form}"}}'):
            assert form not in redactor(text), name
            assert MASK in redactor(text), name


@pytest.mark.parametrize("secret", SECRETS)
def test_base64_is_masked_at_every_offset_and_in_both_alphabets(secret: str) -> None:
    redactor = Redactor([secret])
    for prefix in ("", "a", "ab", "abc", "user:", "x" * 7):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(f"{prefix}{secret}!".encode()).decode()
            cleaned = redactor(text)
            assert MASK in cleaned, (prefix, encode)
            # what is left shows at most the edges: never enough to rebuild the secret
            assert len(cleaned.replace(MASK, "")) <= len(text) - len(secret), (prefix, cleaned)


@pytest.mark.parametrize("secret", SECRETS)
def test_a_secret_at_the_end_of_base64_leaves_no_tail(secret: str) -> None:
    """Basic auth encodes `id:secret`: the secret's last bytes sit alone in the final,
    padded group, which must be masked with the rest (padded or not)."""
    redactor = Redactor([secret])
    for prefix in ("", "a", "ab", "some-client-id:"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            for text in (
                encode(f"{prefix}{secret}".encode()).decode(),
                encode(f"{prefix}{secret}".encode()).decode().rstrip("="),
            ):
                cleaned = redactor(f"Authorization: Basic {text}")
                assert cleaned.endswith(MASK), (prefix, cleaned)
                # before the mask: the groups that hold the prefix (the last of them may
                # carry the secret's first bytes too, mixed with the prefix's)
                shown = len(cleaned) - len(MASK) - len("Authorization: Basic ")
                assert shown <= -(-len(prefix) // 3) * 4, (prefix, cleaned)


def test_lowercase_percent_escapes_and_json_slash_escapes() -> None:
    secret = "a/b+c d&e=f"
    redactor = Redactor([secret])
    for text in (
        quote(secret, safe="").lower(),
        quote_plus(secret).replace("%2F", "%2f"),
        json.dumps(secret).replace("/", "\\/"),
        repr(secret.encode()),
        ascii(secret + "\u00e9"),
    ):
        assert secret not in redactor(text)
        assert MASK in redactor(text), text


def test_each_form_is_handed_to_the_listener_once_raw_first() -> None:
    seen: list[str] = []
    redactor = Redactor(on_new=seen.append)
    redactor.add("a/b c+d=e")
    redactor.add("a/b c+d=e")
    assert seen[0] == "a/b c+d=e"
    assert len(seen) == len(set(seen)) > 5
    assert "a%2Fb%20c%2Bd%3De" in seen and "a%2Fb+c%2Bd%3De" in seen


def test_a_value_split_by_control_characters_is_masked_part_by_part() -> None:
    token = "tok-9f2c41d7\r\n::set-output name=decision::promoted\x00tail-5be1e"
    redactor = Redactor([token])
    for part in ("tok-9f2c41d7", "::set-output name=decision::promoted", "tail-5be1e"):
        assert part not in redactor(f"line: {part}")


def test_a_listeners_copy_masks_exactly_what_it_is_handed() -> None:
    copy = Redactor(forms=False)
    copy.add("a/b c")
    assert copy.values == {"a/b c"}
    assert copy("x a/b c y") == "x *** y"


def test_short_values_are_not_registered() -> None:
    assert Redactor(["abc"]).values == frozenset()
