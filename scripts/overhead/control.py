"""Object-heavy control: classes, methods, dicts and strings; nothing here is numeric.

pyfast cannot speed this up, so under ``pyfast`` and ``pyfast --no-jit`` it must run at
python's speed: the point is the cost of the probes on many small calls and short loops.
"""

import sys


class Shape:
    def __init__(self, name, sides):
        self.name = name
        self.sides = sides
        self.tags = {}

    def area(self):
        return 0

    def describe(self):
        return f"{self.name}/{self.sides}"

    def tag(self, key, value):
        self.tags[key] = self.tags.get(key, 0) + value


class Rect(Shape):
    def __init__(self, w, h):
        super().__init__("rect", 4)
        self.w, self.h = w, h

    def area(self):
        return self.w * self.h


class Tri(Shape):
    def __init__(self, b, h):
        super().__init__("tri", 3)
        self.b, self.h = b, h

    def area(self):
        return self.b * self.h / 2


def build(n):
    return [Rect(i % 7 + 1, i % 5 + 1) if i % 2 else Tri(i % 3 + 1, i % 4 + 1) for i in range(n)]


def summarise(shapes):
    by_name = {}
    for shape in shapes:
        key = shape.describe()
        by_name[key] = by_name.get(key, 0) + shape.area()
        shape.tag(key[:3], 1)
    return sorted(by_name.items())[:3]


def words(text):
    counts = {}
    for word in text.split():
        word = word.strip(".,").lower()
        if word:
            counts[word] = counts.get(word, 0) + 1
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))


def main(rounds):
    text = " ".join(f"Word{i % 13}, alpha. beta{i % 5}" for i in range(300))
    result = None
    for _ in range(rounds):
        result = (summarise(build(300)), words(text))
    print("control:", result)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
