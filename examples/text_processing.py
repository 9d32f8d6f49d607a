"""Text processing: tokenize a text, then count, first and last word in parallel branches."""

import runic


def tokenize(text):
    return text.lower().split()


def count(words):
    return len(words)


def first(words):
    return words[0]


def last(words):
    return words[-1]


def longest(words):
    return max(words, key=len)


def main() -> None:
    wf = runic.workflow("text", steps=[(runic.step(tokenize), [runic.step(count), runic.step(first),
                                                               runic.step(last), runic.step(longest)])])
    wf.react_until_satisfied("Anybody want a peanut butter sandwich")
    for name, value in wf.results(["count", "first", "last", "longest"]).items():
        print(f"{name:>8}: {value}")


if __name__ == "__main__":
    main()
