"""The checkout: what an order costs."""

from shop.pricing import apply_discount


def order_total(prices: list[float], member: bool) -> float:
    """The total of an order."""
    total = sum(prices)
    return total
