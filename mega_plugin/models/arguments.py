"""Command-line flags shared by the Mega NMT and LM models (original names; no defaults: the archs set them)."""

from mega_plugin.modules.activations import ACTIVATIONS, ATTENTION_ACTIVATIONS
from mega_plugin.modules.norms import NORM_TYPES
from mega_plugin.modules.position_bias import REL_POS_BIAS_TYPES


def add_block_args(parser) -> None:
    """Activation, dropout, norm and position-bias flags of the Mega blocks."""
    parser.add_argument("--activation-fn", choices=ACTIVATIONS, help="activation of v, h, FFN and cross-attention")
    parser.add_argument("--attention-activation-fn", choices=ATTENTION_ACTIVATIONS, help="attention function")
    parser.add_argument("--dropout", type=float, metavar="D", help="dropout probability")
    parser.add_argument("--attention-dropout", type=float, metavar="D", help="dropout on attention weights")
    parser.add_argument("--hidden-dropout", type=float, metavar="D", help="dropout on the attention value v")
    parser.add_argument("--activation-dropout", type=float, metavar="D", help="dropout after the FFN activation")
    parser.add_argument("--feature-dropout", action="store_true", help="drop whole feature channels")
    parser.add_argument("--normalization-type", choices=NORM_TYPES, help="sequence norm of every sub-layer")
    parser.add_argument("--normalize-before", action="store_true", help="pre-norm blocks (adds a final norm)")
    parser.add_argument("--normalize-embedding", action="store_true", help="normalise the embeddings")
    parser.add_argument("--no-scale-embedding", action="store_true", help="do not scale embeddings by sqrt(D)")
    parser.add_argument("--rel-pos-bias", choices=REL_POS_BIAS_TYPES,
                        help="relative position bias of the attention")
    parser.add_argument("--truncation-length", type=int, metavar="N", help="EMA kernel truncation")


def add_side_args(parser, side: str) -> None:
    """``--{encoder,decoder}-*`` dimensions of one side."""
    parser.add_argument(f"--{side}-embed-path", type=str, metavar="STR", help="path to pre-trained embedding")
    parser.add_argument(f"--{side}-embed-dim", type=int, metavar="N", help="embedding dimension D")
    parser.add_argument(f"--{side}-hidden-dim", type=int, metavar="N", help="value / gate dimension H")
    parser.add_argument(f"--{side}-ffn-embed-dim", type=int, metavar="N", help="FFN dimension (0: no FFN)")
    parser.add_argument(f"--{side}-z-dim", type=int, metavar="N", help="shared query/key dimension Z")
    parser.add_argument(f"--{side}-n-dim", type=int, metavar="N", help="EMA expansion dimension N")
    parser.add_argument(f"--{side}-layers", type=int, metavar="N", help="number of layers")
    parser.add_argument(f"--{side}-chunk-size", type=int, metavar="N", help="attention chunk size (-1: none)")
