"""``mega-eval-lm``: chunked perplexity of a Mega LM, like the original ``eval_mega_lm.py``.

Each evaluation block (``--tokens-per-sample``, ``--sample-break-mode``) is fed to the decoder in consecutive
segments of ``--test-chunk-size * --chunk-nums`` tokens; the incremental state (EMA state, keys/values of the open
chunk) is carried from segment to segment, so every token sees the whole block before it while memory stays
bounded by the segment. ``--test-chunk-size`` also sets the model's attention chunk (``decoder_chunk_size``; only
models with rotary position bias accept a chunk size other than their training one). As in the original, blocks
are not filtered by the model's ``max_positions``: chunked (or rotary) models score blocks of any length.

    mega-eval-lm DATA --path checkpoint.pt --gen-subset test --tokens-per-sample 2048 --test-chunk-size 1024

Prints ``Loss (base 2): ...`` and ``Perplexity: ...`` like ``fairseq-eval-lm``. Per-word output
(``--output-word-probs``/``--output-word-stats``) and ``--softmax-batch`` are refused, not ignored.
"""

import ast
import logging
import math
import sys

import torch
from fairseq import checkpoint_utils, options, tasks, utils

logger = logging.getLogger("mega_plugin.eval_lm")


def build_parser():
    parser = options.get_eval_lm_parser()
    group = parser.add_argument_group("mega-eval-lm")
    group.add_argument("--test-chunk-size", type=int, default=None,
                       help="attention chunk size for evaluation (default: the model's)")
    group.add_argument("--chunk-nums", type=int, default=1, help="chunks per decoder call")
    return parser


def segment_scores(model, tokens, target, segment, pad):
    """Sum of target log-probs and count of non-pad targets for one batch ``[B, T]``, segment by segment."""
    state, total, count = {}, 0.0, 0
    for start in range(0, tokens.size(1), segment):
        piece, gold = tokens[:, start : start + segment], target[:, start : start + segment]
        net_output = model.decoder(piece, incremental_state=state)
        lprobs = model.get_normalized_probs(net_output, log_probs=True, sample={"target": gold})
        scores = lprobs.gather(-1, gold.unsqueeze(-1)).squeeze(-1)
        keep = gold.ne(pad)
        total += scores[keep].double().sum().item()
        count += int(keep.sum())
    return total, count


def main(argv=None):
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO,
                        stream=sys.stdout)
    import mega_plugin  # noqa: F401  (registers the Mega models)

    parser = build_parser()
    args = options.parse_args_and_arch(parser, argv)
    if args.context_window > 0:
        raise ValueError("--context-window is not supported by mega-eval-lm: the carried incremental state already "
                         "gives every token the whole block before it")
    for flag in ("output_word_probs", "output_word_stats"):
        if getattr(args, flag, False):
            raise ValueError(f"--{flag.replace('_', '-')} is not supported by mega-eval-lm (it reports the corpus "
                             "loss only); use fairseq-eval-lm for per-word output")
    if args.softmax_batch != sys.maxsize:
        raise ValueError("--softmax-batch is not supported by mega-eval-lm; bound memory with --chunk-nums "
                         "(tokens per decoder call) and --batch-size instead")
    if args.chunk_nums < 1:
        raise ValueError(f"--chunk-nums must be >= 1, got {args.chunk_nums}")
    use_cuda = torch.cuda.is_available() and not args.cpu
    overrides = ast.literal_eval(args.model_overrides) if args.model_overrides else {}
    overrides["data"] = args.data
    if args.test_chunk_size is not None:
        overrides["decoder_chunk_size"] = args.test_chunk_size
    try:
        models, cfg = checkpoint_utils.load_model_ensemble(args.path.split(":"), arg_overrides=overrides)
    except RuntimeError as error:
        if args.test_chunk_size is not None and "rel_pos_bias" in str(error):
            raise ValueError("--test-chunk-size differs from the training chunk size, which only models with "
                             "--rel-pos-bias rotary accept (the simple bias table has one entry per chunk offset)"
                             ) from error
        raise
    model = models[0].eval()
    if not hasattr(model.decoder, "layers") or not hasattr(model.decoder, "get_incremental_state"):
        raise ValueError("mega-eval-lm needs a Mega language model checkpoint (--arch mega_lm*)")
    if args.fp16:
        model.half()
    if use_cuda:
        model.cuda()
    chunk = getattr(cfg.model, "decoder_chunk_size", -1)
    segment = (chunk if chunk > 0 else args.tokens_per_sample) * args.chunk_nums

    task = tasks.setup_task(args)
    task.load_dataset(args.gen_subset)
    dataset = task.dataset(args.gen_subset)
    iterator = task.get_batch_iterator(
        dataset=dataset, max_tokens=args.max_tokens or 36000, max_sentences=args.batch_size,
        max_positions=10**6,
        ignore_invalid_inputs=True, num_shards=args.num_shards, shard_id=args.shard_id,
        num_workers=args.num_workers,
    ).next_epoch_itr(shuffle=False)

    total, count, pad = 0.0, 0, task.target_dictionary.pad()
    with torch.no_grad():
        for sample in iterator:
            sample = utils.move_to_cuda(sample) if use_cuda else sample
            if not sample:
                continue
            batch_total, batch_count = segment_scores(
                model, sample["net_input"]["src_tokens"], sample["target"], segment, pad
            )
            total, count = total + batch_total, count + batch_count
    if count == 0:
        raise ValueError(f"no tokens to score in subset {args.gen_subset!r}")
    loss = -total / count / math.log(2)
    logger.info("Evaluated %d tokens in segments of %d", count, segment)
    logger.info("Loss (base 2): %.4f, Perplexity: %.2f", loss, 2**loss)
    return loss


if __name__ == "__main__":
    main()
