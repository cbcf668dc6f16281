"""What tokens cost: list prices by model and the estimate ``%mistral_usage`` shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_PRICES", "cost"]

# USD per million tokens, [input, output]: Mistral's list prices as published in mid-2025.
# Prices change; set MistralMagics.prices to the current ones.
DEFAULT_PRICES = {
    "mistral-large-latest": [2.0, 6.0],
    "mistral-medium-latest": [0.4, 2.0],
    "mistral-small-latest": [0.1, 0.3],
    "ministral-8b-latest": [0.1, 0.1],
    "ministral-3b-latest": [0.04, 0.04],
    "codestral-latest": [0.3, 0.9],
    "open-mistral-nemo": [0.15, 0.15],
}


def cost(model: str, usage: Mapping[str, Any], prices: Mapping[str, Sequence[float]],
         unpriced: set[str]) -> float:
    """Estimated USD for one turn; a dated model id takes its family's ``-latest`` price.

    A model with no price costs 0 and is added to ``unpriced``, so the table can say so.
    """
    price = prices.get(model) or next(
        (value for key, value in sorted(prices.items(), key=lambda item: -len(item[0]))
         if model.startswith(key.removesuffix("-latest"))), None)
    if price is None:
        if model:
            unpriced.add(model)
        return 0.0
    return ((usage.get("prompt_tokens") or 0) * price[0]
            + (usage.get("completion_tokens") or 0) * price[1]) / 1e6
