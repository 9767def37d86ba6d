"""Collect the hypotheses of a ``fairseq-generate`` run in test order and score them with sacrebleu.

    python score.py GENERATE_OUTPUT REFERENCE [--hypotheses FILE] [--json FILE]

GENERATE_OUTPUT is fairseq-generate's stdout; its ``D-<id>\\t<score>\\t<text>`` lines hold the detokenised
hypotheses (pieces already joined by ``--post-process sentencepiece``). REFERENCE is the raw German test text, one
sentence a line. Every reference line must have exactly one hypothesis (ids 0..N-1), otherwise this fails with
the missing / unexpected ids. Prints the corpus BLEU (sacrebleu defaults: 13a tokenisation, case-sensitive).
"""

import argparse
import json
import pathlib

import sacrebleu


def read_hypotheses(generate_output: pathlib.Path, expected: int) -> list:
    """The ``D-`` texts ordered by sentence id; ValueError unless the ids are exactly 0..expected-1."""
    by_id = {}
    for line in generate_output.read_text(encoding="utf-8").splitlines():
        if not line.startswith("D-"):
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise ValueError(f"malformed line in {generate_output}: {line!r}")
        sentence_id = int(fields[0][2:])
        if sentence_id in by_id:
            raise ValueError(f"{generate_output}: two hypotheses for sentence {sentence_id}")
        by_id[sentence_id] = fields[2]
    missing = sorted(set(range(expected)) - set(by_id))
    unexpected = sorted(set(by_id) - set(range(expected)))
    if missing or unexpected:
        raise ValueError(f"{generate_output}: {len(by_id)} hypotheses for {expected} reference lines; "
                         f"missing ids {missing[:10]}, unexpected ids {unexpected[:10]}")
    return [by_id[i] for i in range(expected)]


def score(generate_output: pathlib.Path, reference: pathlib.Path) -> dict:
    references = reference.read_text(encoding="utf-8").splitlines()
    hypotheses = read_hypotheses(generate_output, len(references))
    metric = sacrebleu.BLEU()
    result = metric.corpus_score(hypotheses, [references])
    return {"bleu": result.score, "signature": str(metric.get_signature()), "hypotheses": hypotheses,
            "sentences": len(hypotheses)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generate_output", type=pathlib.Path, help="fairseq-generate stdout")
    parser.add_argument("reference", type=pathlib.Path, help="raw reference text, one sentence a line")
    parser.add_argument("--hypotheses", type=pathlib.Path, help="write the hypotheses here, in test order")
    parser.add_argument("--json", type=pathlib.Path, help="write BLEU, signature and sentence count here")
    args = parser.parse_args()
    result = score(args.generate_output, args.reference)
    if args.hypotheses:
        args.hypotheses.write_text("".join(h + "\n" for h in result["hypotheses"]), encoding="utf-8")
    if args.json:
        summary = {key: value for key, value in result.items() if key != "hypotheses"}
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"sacreBLEU {result['bleu']:.2f} on {result['sentences']} sentences ({result['signature']})")


if __name__ == "__main__":
    main()
