"""Quick start: build a workflow, run it in-process, look at the results and the graph."""

import runic


def add_one(x):
    return x + 1


def double(x):
    return x * 2


def main() -> None:
    wf = runic.workflow(
        "quick",
        steps=[(runic.step(add_one), [runic.step(double), runic.step(lambda x: x * x, name="square")])],
        rules=[runic.rule(lambda x: x > 10, lambda x: f"{x} is big", name="big")],
    )
    wf.react_until_satisfied(5)
    print("results:", wf.results())  # {'add_one': 6, 'double': 12, 'square': 36}
    wf.react_until_satisfied(20)
    print("all doubles:", wf.raw_productions("double"))
    print("rule:", wf.raw_productions("big"))
    print(wf.to_mermaid())


if __name__ == "__main__":
    main()
