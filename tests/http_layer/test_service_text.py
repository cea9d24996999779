"""Service text is bounded once, where it enters, with a marker saying what was left off."""

from __future__ import annotations

from ci_trainer.http.service_text import SERVICE_TEXT_LIMIT, optional_service_text, service_text
from ci_trainer.redact import MASK, Redactor


def test_short_text_is_kept_as_it_is() -> None:
    assert service_text("GPU node preempted") == "GPU node preempted"
    assert optional_service_text(None) is None
    assert optional_service_text("") == ""


def test_a_megabyte_is_cut_to_the_limit_and_says_how_much_more_there_was() -> None:
    text = "y" * 1_000_000
    kept = service_text(text)
    assert (
        kept == "y" * SERVICE_TEXT_LIMIT + f"... ({1_000_000 - SERVICE_TEXT_LIMIT} more characters)"
    )


def test_a_secret_across_the_cut_is_masked_whole_never_half_shown() -> None:
    secret = "s3cret-value-that-straddles"
    text = "a" * (SERVICE_TEXT_LIMIT - 5) + secret + "b" * 500_000
    kept = service_text(text, Redactor([secret]))
    assert secret[:5] not in kept and MASK[:2] in kept
    assert kept.endswith(" more characters)")


def test_characters_dropped_earlier_count_in_the_marker() -> None:
    assert service_text("z" * 2500, cut_before=100).endswith("... (600 more characters)")
