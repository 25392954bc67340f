"""Control: classes, dicts and strings; pyfast is not expected to speed this up."""

import os

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


class Account:
    def __init__(self, name, balance):
        self.name = name
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        self.balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount):
        if amount > self.balance:
            return False
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return True


def simulate(rounds):
    accounts = {f"acct-{i:03d}": Account(f"Owner {i}", i * 10) for i in range(200)}
    names = sorted(accounts)
    words = {}
    refused = 0
    for r in range(rounds):
        name = names[(r * 7) % len(names)]
        acct = accounts[name]
        if r % 3 == 0:
            acct.deposit(r % 50)
        elif not acct.withdraw(r % 70):
            refused += 1
        key = name.upper().replace("ACCT", "A")[-2:]
        words[key] = words.get(key, 0) + len(acct.history)
    top = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    total = sum(a.balance for a in accounts.values())
    return total, refused, top


ROUNDS = int(400_000 * SCALE)
total, refused, top = simulate(ROUNDS)
print(f"objects: total {total}, refused {refused}, top {top}")
