"""Small list utilities, written for the multiplt example corpus."""


def running_max(values: list) -> list:
    """Return a list whose i-th item is the largest of the first i+1 values."""
    result = []
    best = None
    for v in values:
        if best is None or v > best:
            best = v
        result.append(best)
    return result


def count_greater(values: list, threshold: int) -> int:
    """Return how many values are strictly greater than the threshold."""
    count = 0
    for v in values:
        if v > threshold:
            count += 1
    return count


def pairwise_differences(values: list) -> list:
    """Return the differences between neighbouring values: values[1] - values[0], and so on."""
    diffs = []
    for i in range(1, len(values)):
        diffs.append(values[i] - values[i - 1])
    return diffs
