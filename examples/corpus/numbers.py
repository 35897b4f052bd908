"""Small numeric utilities, written for the multiplt example corpus."""


def sum_of_squares(n: int) -> int:
    """Return 1*1 + 2*2 + ... + n*n, or 0 when n is not positive."""
    total = 0
    for i in range(1, n + 1):
        total += i * i
    return total


def digit_sum(n: int) -> int:
    """Return the sum of the decimal digits of n, ignoring its sign."""
    n = abs(n)
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total


def collatz_steps(n: int) -> int:
    """Return how many steps the Collatz process takes to reach 1 from a positive n:
    halve an even number, replace an odd number by three times it plus one."""
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def mean(values: list) -> float:
    """Return the arithmetic mean of a non-empty list of numbers."""
    total = 0.0
    for v in values:
        total += v
    return total / len(values)
