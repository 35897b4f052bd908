"""Small text utilities, written for the multiplt example corpus."""


def count_vowels(text: str) -> int:
    """Return how many vowels (a, e, i, o, u, in either case) the text contains."""
    total = 0
    for ch in text.lower():
        if ch in "aeiou":
            total += 1
    return total


def is_palindrome(word: str) -> bool:
    """Return True if the word reads the same forwards and backwards, ignoring case."""
    lowered = word.lower()
    left, right = 0, len(lowered) - 1
    while left < right:
        if lowered[left] != lowered[right]:
            return False
        left += 1
        right -= 1
    return True


def caesar_shift(text: str, shift: int) -> str:
    """Shift every lowercase letter of the text forward by `shift` places in the alphabet,
    wrapping around from z to a. Other characters are left as they are."""
    out = []
    for ch in text:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - ord("a") + shift) % 26 + ord("a")))
        else:
            out.append(ch)
    return "".join(out)


def word_lengths(sentence: str) -> list:
    """Return the length of each space-separated word in the sentence, in order."""
    lengths = []
    for word in sentence.split():
        lengths.append(len(word))
    return lengths
