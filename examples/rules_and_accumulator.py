"""Rules and an accumulator: classify transactions, keep a running balance, alert on overdraft.

Then a state machine: a door that reacts to events and raises an alarm when opened while locked.
"""

import runic


def is_deposit(tx):
    return tx["kind"] == "deposit"


def is_withdrawal(tx):
    return tx["kind"] == "withdrawal"


def amount(tx):
    return tx["amount"]


def negative(tx):
    return -tx["amount"]


def apply(delta, balance):
    return balance + delta


def door(event, state):
    transitions = {("locked", "unlock"): "closed", ("closed", "open"): "open",
                   ("open", "close"): "closed", ("closed", "lock"): "locked"}
    return transitions.get((state, event), "forced" if event == "open" else state)


def main() -> None:
    bank = runic.Workflow("bank")
    bank.add(runic.rule(is_deposit, amount, name="credit"))
    bank.add(runic.rule(is_withdrawal, negative, name="debit"))
    balance = runic.accumulator(0, apply, name="balance")
    bank.add(balance, to="credit").add(balance, to="debit")  # one accumulator fed by both rules
    bank.add(runic.rule(lambda b: b < 0, lambda b: f"ALERT: balance {b}", name="overdrawn"), to="balance")
    for tx in ({"kind": "deposit", "amount": 100}, {"kind": "withdrawal", "amount": 30},
               {"kind": "withdrawal", "amount": 120}, {"kind": "deposit", "amount": 60}):
        bank.react_until_satisfied(tx)
    print("balance history:", bank.raw_productions("balance"))
    print("alerts:", bank.raw_productions("overdrawn"))

    machine = runic.state_machine("door", "locked", door,
                                  reactors={"alarm": (lambda s: s == "forced", lambda s: "ALARM: door forced")})
    house = runic.Workflow("house").add(machine)
    for event in ("unlock", "open", "close", "lock", "open"):
        house.react_until_satisfied(event)
    print("door states:", house.raw_productions("door_accumulator"))
    print("alarms:", house.raw_productions("alarm"))


if __name__ == "__main__":
    main()
