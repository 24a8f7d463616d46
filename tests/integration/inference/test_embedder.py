import numpy as np
import pytest

from shared.inference.runtime import LocalEmbedder

pytestmark = [pytest.mark.model]


async def test_similar_sentences_are_closer_than_unrelated(minilm: LocalEmbedder) -> None:
    vectors = await minilm.embed(
        [
            "The cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "Quarterly revenue grew by eight percent.",
        ]
    )
    assert vectors.shape == (3, minilm.dim) == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.5 > unrelated


async def test_batched_embeddings_equal_single_ones(minilm: LocalEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about the weather " * 3, "emoji for a party"]
    together = await minilm.embed(texts)
    alone = np.stack([(await minilm.embed([t]))[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
    assert (await minilm.embed([])).shape == (0, 384)
