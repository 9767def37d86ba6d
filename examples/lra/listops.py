"""ListOps (Nangia & Bowman 2018) as in Long Range Arena: a generator of our own and an independent evaluator.

Expressions nest the operators MAX, MIN, MED (median, rounded down) and SM (sum modulo 10) over single digits,
e.g. ``[MAX 2 9 [MIN 4 7 ] 0 ]`` = 9. LRA's generator (task ``basic``): a node becomes a digit with probability
0.75 (always at the maximum depth), otherwise an operator over 2..``max_args`` sub-trees; the written form wraps
every application step in parentheses, ``( ( [MAX 2 ) 9 ) ]``, which models drop. Lengths are counted in tokens
without parentheses.

    python examples/lra/listops.py OUT_DIR --train 2000 --valid 200 --test 200 --seed 0   # LRA tsv layout
"""

import argparse
import csv
import pathlib
import random

OPERATORS = ("[MAX", "[MIN", "[MED", "[SM")
VALUE_PROBABILITY = 0.75


def generate_tree(rng: random.Random, depth: int = 1, max_depth: int = 10, max_args: int = 10):
    """A nested ``(operator, [children])`` tree or an int digit."""
    if depth >= max_depth or rng.random() < VALUE_PROBABILITY:
        return rng.randrange(10)
    children = [generate_tree(rng, depth + 1, max_depth, max_args) for _ in range(rng.randint(2, max_args))]
    return rng.choice(OPERATORS), children


def to_lra_string(tree) -> str:
    """The official tsv form, with one pair of parentheses per application step."""
    if isinstance(tree, int):
        return str(tree)
    operator, children = tree
    text = f"( {operator}"
    for index, child in enumerate(children):
        text = f"{text} {to_lra_string(child)} )" if index == 0 else f"( {text} {to_lra_string(child)} )"
    return f"( {text} ] )"


def tokens(source: str):
    """Model tokens: the source without parentheses."""
    return [token for token in source.split() if token not in ("(", ")")]


def evaluate(token_list) -> int:
    """Value of a parenthesis-free token sequence, by an explicit stack (independent of the generator)."""
    stack = [("TOP", [])]
    for token in token_list:
        if token.startswith("["):
            stack.append((token, []))
        elif token == "]":
            operator, values = stack.pop()
            stack[-1][1].append(_apply(operator, values))
        else:
            stack[-1][1].append(int(token))
    if len(stack) != 1 or len(stack[0][1]) != 1:
        raise ValueError("malformed ListOps expression")
    return stack[0][1][0]


def _apply(operator: str, values) -> int:
    if operator == "[MAX":
        return max(values)
    if operator == "[MIN":
        return min(values)
    if operator == "[SM":
        return sum(values) % 10
    if operator == "[MED":
        ordered = sorted(values)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return int(median)
    raise ValueError(f"unknown ListOps operator {operator!r}")


def tree_value(tree) -> int:
    if isinstance(tree, int):
        return tree
    operator, children = tree
    return _apply(operator, [tree_value(child) for child in children])


def generate(rng: random.Random, count: int, min_length: int = 500, max_length: int = 2000, max_depth: int = 10,
             max_args: int = 10):
    """``count`` distinct ``(source, value)`` pairs with ``min_length <= len(tokens) <= max_length``."""
    seen, examples = set(), []
    while len(examples) < count:
        tree = generate_tree(rng, 1, max_depth, max_args)
        source = to_lra_string(tree)
        if source in seen or not min_length <= len(tokens(source)) <= max_length:
            continue
        seen.add(source)
        examples.append((source, tree_value(tree)))
    return examples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--valid", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--min-length", type=int, default=500)
    parser.add_argument("--max-length", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    examples = generate(rng, args.train + args.valid + args.test, args.min_length, args.max_length)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    splits = {"train": examples[: args.train], "val": examples[args.train : args.train + args.valid],
              "test": examples[args.train + args.valid :]}
    for split, rows in splits.items():
        with open(args.out_dir / f"basic_{split}.tsv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["Source", "Target"])
            writer.writerows(rows)
    print(f"wrote {len(examples)} expressions to {args.out_dir}")


if __name__ == "__main__":
    main()
