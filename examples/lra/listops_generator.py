"""ListOps (Nangia & Bowman 2018) as Long Range Arena generates it, plus an independent evaluator.

An expression nests the operators ``[MIN``, ``[MAX``, ``[MED`` (median, rounded down) and ``[SM`` (sum modulo 10)
over the digits 0..9; ``]`` closes each operator: ``[MAX 2 9 [MIN 4 7 ] 0 ]`` has the value 9.

The published algorithm (LRA ``lra_benchmarks/data/listops.py``, task ``basic``):

* below ``max_depth`` a node is a digit when a uniform draw exceeds 0.25 (so with probability 0.75); at
  ``max_depth`` it is always a digit;
* otherwise it applies an operator to ``randint(2, max_args)`` sub-trees, the operator being drawn after them;
* the length of an expression is its token count without parentheses (an operator node adds 2: the operator and
  its ``]``); only expressions with ``min_length < length < max_length`` (strict) are kept, without duplicates.

The random draws are made in the same order as the official generator, so the same seed (``random.seed``) yields
the same sequence of expressions. The TSV form wraps every application step in parentheses, left-nested:
``[MAX 2 9 ]`` is written ``( ( ( [MAX 2 ) 9 ) ] )``. Models drop the parentheses (``model_tokens``).

    python examples/lra/listops_generator.py OUT_DIR --train 2000 --valid 200 --test 200 --seed 0

writes ``OUT_DIR/basic_{train,val,test}.tsv`` (header ``Source<TAB>Target``, CRLF line ends, as the official
files). The official script splits in Python ``set`` iteration order; this one splits in generation order.
"""

import argparse
import csv
import math
import pathlib
import random
import statistics
from typing import List, NamedTuple, Tuple, Union

# The order matters: ``random.choice`` over this tuple must pick what the official generator picks.
OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
CLOSE = "]"
DIGITS = range(10)
OPERATOR_PROBABILITY = 0.25
VOCABULARY = OPERATORS + (CLOSE,) + tuple(str(d) for d in DIGITS)


class Apply(NamedTuple):
    """An operator applied to its arguments (each an int digit or another ``Apply``)."""

    operator: str
    arguments: tuple


Tree = Union[int, Apply]


def random_tree(rng: random.Random, depth: int = 1, max_depth: int = 10, max_args: int = 10) -> Tuple[Tree, int]:
    """A random expression tree and its length in tokens (parentheses excluded)."""
    draw = rng.random() if depth < max_depth else 1.0
    if draw > OPERATOR_PROBABILITY:
        return rng.choice(DIGITS), 1
    arguments, length = [], 2
    for _ in range(rng.randint(2, max_args)):
        argument, argument_length = random_tree(rng, depth + 1, max_depth, max_args)
        arguments.append(argument)
        length += argument_length
    return Apply(rng.choice(OPERATORS), tuple(arguments)), length


def official_source(tree: Tree) -> str:
    """The TSV ``Source`` text: one pair of parentheses per application step."""
    if not isinstance(tree, Apply):
        return str(tree)
    text = f"( {tree.operator} {official_source(tree.arguments[0])} )"
    for argument in tree.arguments[1:]:
        text = f"( {text} {official_source(argument)} )"
    return f"( {text} {CLOSE} )"


def tree_value(tree: Tree) -> int:
    """Value of a tree, computed on the tree itself (the generator's labels)."""
    if not isinstance(tree, Apply):
        return tree
    values = sorted(tree_value(argument) for argument in tree.arguments)
    if tree.operator == "[MIN":
        return values[0]
    if tree.operator == "[MAX":
        return values[-1]
    if tree.operator == "[SM":
        return sum(values) % 10
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) // 2


def tree_depth(tree: Tree) -> int:
    """Depth as the generator counts it: a lone digit has depth 1."""
    if not isinstance(tree, Apply):
        return 1
    return 1 + max(tree_depth(argument) for argument in tree.arguments)


def model_tokens(source: str) -> List[str]:
    """Tokens a model sees: the source split on blanks, parentheses dropped."""
    return [token for token in source.split() if token not in ("(", ")")]


def evaluate(source: str) -> int:
    """Value of a ListOps expression given as text (with or without parentheses), by an explicit stack.

    Independent of the generator: it reads only the token sequence. Raises ``ValueError`` on malformed input.
    """
    frames: List[Tuple[str, list]] = [("", [])]
    for token in model_tokens(source):
        if token in OPERATORS:
            frames.append((token, []))
        elif token == CLOSE:
            if len(frames) == 1:
                raise ValueError(f"unbalanced {CLOSE!r} in ListOps expression")
            operator, operands = frames.pop()
            if not operands:
                raise ValueError(f"operator {operator} without arguments")
            frames[-1][1].append(_reduce(operator, operands))
        elif token.isdigit() and len(token) == 1:
            frames[-1][1].append(int(token))
        else:
            raise ValueError(f"unknown ListOps token {token!r}")
    if len(frames) != 1 or len(frames[0][1]) != 1:
        raise ValueError("ListOps expression is not one complete term")
    return frames[0][1][0]


def _reduce(operator: str, operands: list) -> int:
    if operator == "[MIN":
        return min(operands)
    if operator == "[MAX":
        return max(operands)
    if operator == "[SM":
        return sum(operands) % 10
    return math.floor(statistics.median(operands))


def generate(rng: random.Random, count: int, min_length: int = 500, max_length: int = 2000, max_depth: int = 10,
             max_args: int = 10) -> List[Tuple[str, int]]:
    """``count`` distinct ``(source, value)`` pairs with ``min_length < length < max_length``, in generation order."""
    if min_length + 1 >= max_length:
        raise ValueError(f"no length fits strictly between {min_length} and {max_length}")
    if max_depth < 1 or max_args < 2:
        raise ValueError("max_depth must be >= 1 and max_args >= 2")
    seen, examples = set(), []
    while len(examples) < count:
        tree, length = random_tree(rng, 1, max_depth, max_args)
        if min_length < length < max_length and tree not in seen:
            seen.add(tree)
            examples.append((official_source(tree), tree_value(tree)))
    return examples


def write_tsv(path: pathlib.Path, rows) -> None:
    """A ``Source<TAB>Target`` file with CRLF line ends, as the official generator writes."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\r\n")
        writer.writerow(["Source", "Target"])
        writer.writerows(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--train", type=int, default=2000, help="training examples (official: 96000)")
    parser.add_argument("--valid", type=int, default=200, help="validation examples (official: 2000)")
    parser.add_argument("--test", type=int, default=200, help="test examples (official: 2000)")
    parser.add_argument("--min-length", type=int, default=500)
    parser.add_argument("--max-length", type=int, default=2000)
    parser.add_argument("--max-depth", type=int, default=10)
    parser.add_argument("--max-args", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    examples = generate(rng, args.train + args.valid + args.test, args.min_length, args.max_length,
                        args.max_depth, args.max_args)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    bounds = {"train": (0, args.train), "val": (args.train, args.train + args.valid),
              "test": (args.train + args.valid, len(examples))}
    for split, (start, stop) in bounds.items():
        write_tsv(args.out_dir / f"basic_{split}.tsv", examples[start:stop])
    print(f"wrote {len(examples)} ListOps expressions to {args.out_dir}")


if __name__ == "__main__":
    main()
