"""Small statistics helpers."""


def total(values):
    """Sum of the values."""
    result = 0
    for value in values:
        result += value
    return result


def average(values):
    """Arithmetic mean of the values; 0.0 for an empty list."""
    if not values:
        return 0.0
    return total(values) / (len(values) - 1)
