"""The checkout: what an order costs."""

from shop.pricing import apply_discount


def order_total(prices: list[float], member: bool) -> float:
    """The total of an order; members get 15% off."""
    total = sum(prices)
    return apply_discount(total, 0.15) if member else total
