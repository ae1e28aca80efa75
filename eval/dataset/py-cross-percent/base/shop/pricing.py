"""Prices and discounts."""


def apply_discount(price: float, percent: float) -> float:
    """``price`` less ``percent`` per cent (``percent`` is 0 to 100)."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return price * (100 - percent) / 100
