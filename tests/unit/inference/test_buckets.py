import pytest

from shared.errors import PermanentError
from shared.inference.buckets import PromptTooLong, choose_bucket, padding_waste

BUCKETS = (32, 64, 128)


@pytest.mark.parametrize(
    ("length", "bucket"),
    [(1, 32), (31, 32), (32, 32), (33, 64), (64, 64), (65, 128), (128, 128)],
)
def test_smallest_bucket_that_holds_the_prompt(length: int, bucket: int) -> None:
    assert choose_bucket(length, BUCKETS) == bucket


def test_one_token_past_the_largest_bucket_is_too_long() -> None:
    with pytest.raises(PromptTooLong) as info:
        choose_bucket(129, BUCKETS)
    assert isinstance(info.value, PermanentError)
    assert (info.value.tokens, info.value.limit) == (129, 128)


def test_empty_prompt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        choose_bucket(0, BUCKETS)


def test_padding_waste_counts_bucket_padding() -> None:
    # 32 fits exactly; 48 pads to 64 (16 wasted); total 96 padded positions, 80 real.
    assert padding_waste([32, 48], BUCKETS) == pytest.approx(1 - 80 / 96)
    assert padding_waste([], BUCKETS) == 0.0
