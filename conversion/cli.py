"""``mega-convert``: fairseq Mega checkpoints <-> Hugging Face MegaConfig folders.

    mega-convert to-hf CHECKPOINT OUT_DIR [--remote-code] [--data DIR]
    mega-convert from-hf HF_DIR OUT.pt

to-hf: mega_lm -> MegaForCausalLM, mega_mlm -> MegaForMaskedLM (config.json, model.safetensors, dict.txt,
vocab.json, special_tokens_map.json). from-hf: the reverse (OUT.pt and dict.txt beside it). Both check the two
models on a padded probe batch (max abs logit difference <= 1e-5) before writing, and write atomically.
Exit status: 0 written, 2 refused (one line on stderr naming the reason).
"""

import argparse
import sys

from conversion.errors import ConversionError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mega-convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    to_hf = commands.add_parser("to-hf", help="fairseq mega_lm / mega_mlm checkpoint -> HF folder")
    to_hf.add_argument("checkpoint", help="fairseq checkpoint (original or plugin)")
    to_hf.add_argument("out_dir", help="new (or empty) output folder")
    to_hf.add_argument("--remote-code", action="store_true",
                       help="pre-norm models: write an auto_map subclass that adds the final norm "
                            "(load with trust_remote_code=True)")
    to_hf.add_argument("--data", help="folder with the fairseq dict.txt (default: beside the checkpoint, then "
                                      "the checkpoint's own data path)")
    from_hf = commands.add_parser("from-hf", help="HF MegaForCausalLM / MegaForMaskedLM folder -> fairseq checkpoint")
    from_hf.add_argument("hf_dir", help="folder with config.json and model.safetensors")
    from_hf.add_argument("out_path", help="checkpoint file to write (dict.txt is written beside it)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from conversion import fairseq_to_hf, hf_to_fairseq

    try:
        if args.command == "to-hf":
            diff = fairseq_to_hf.to_hf(args.checkpoint, args.out_dir, remote_code=args.remote_code, data=args.data)
            target = args.out_dir
        else:
            diff = hf_to_fairseq.from_hf(args.hf_dir, args.out_path)
            target = args.out_path
    except (ConversionError, FileExistsError, FileNotFoundError) as error:
        print(f"mega-convert: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} (probe batch: max abs logit difference {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
