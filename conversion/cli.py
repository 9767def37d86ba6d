"""``mega-convert``: fairseq Mega checkpoints <-> Hugging Face MegaConfig directories.

    mega-convert to-hf CHECKPOINT OUT_DIR [--remote-code] [--data DIR]
    mega-convert from-hf HF_DIR OUT.pt
"""

import argparse
import sys

from conversion.errors import ConversionError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mega-convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    to_hf = commands.add_parser("to-hf", help="fairseq mega_lm checkpoint -> HF MegaForCausalLM directory")
    to_hf.add_argument("checkpoint")
    to_hf.add_argument("out_dir")
    to_hf.add_argument("--remote-code", action="store_true",
                       help="write an auto_map subclass adding the final norm of pre-norm models "
                            "(load with trust_remote_code=True)")
    to_hf.add_argument("--data", help="folder with the fairseq dict.txt (default: the checkpoint's folder)")
    from_hf = commands.add_parser("from-hf", help="HF MegaForCausalLM directory -> fairseq checkpoint")
    from_hf.add_argument("hf_dir")
    from_hf.add_argument("out_path")
    args = parser.parse_args(argv)

    from conversion import fairseq_to_hf, hf_to_fairseq

    try:
        if args.command == "to-hf":
            diff = fairseq_to_hf.to_hf(args.checkpoint, args.out_dir, remote_code=args.remote_code, data=args.data)
            target = args.out_dir
        else:
            diff = hf_to_fairseq.from_hf(args.hf_dir, args.out_path)
            target = args.out_path
    except (ConversionError, FileExistsError) as error:
        print(f"mega-convert: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} (probe batch: max abs logit difference {diff:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
