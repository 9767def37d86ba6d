"""End-to-end ``fairseq-train`` of ``mega_sc_raw_base`` on a few synthetic 16000-sample waveforms
(``speech_commands`` task, ``processed_data/raw/*_X.pt`` / ``*_y.pt``); the checkpoint reloads and reproduces the
logged validation loss and accuracy."""

import torch

from classifier_helpers import TRAIN, check_reload
from mega_plugin.compat.safe_load import load_checkpoint
from plugin_utils import run_cli


def test_mega_sc_raw_base_trains_and_its_checkpoint_reloads(tmp_path):
    raw = tmp_path / "processed_data" / "raw"
    raw.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 6), ("val", 4), ("test", 2)):
        torch.save(torch.randn(count, 1, 16000, generator=generator), raw / f"{split}_X.pt")
        torch.save(torch.randint(0, 10, (count,), generator=generator), raw / f"{split}_y.pt")
    save = tmp_path / "checkpoints"
    output = run_cli("train", tmp_path, "--task", "speech_commands", "--arch", "mega_sc_raw_base",
                     "--encoder-layers", "1", "--encoder-embed-dim", "8", "--encoder-hidden-dim", "16", "--z-dim", "4",
                     "--n-dim", "2", "--chunk-size", "250", "--sentence-class-num", "10", "--max-positions", "16000",
                     "--sc-dropped-rate", "0.", "--batch-size", "3", "--max-update", "2", "--total-num-update", "4",
                     "--save-dir", save, *TRAIN)
    args = check_reload(output, save / "checkpoint_last.pt", tmp_path)
    # sc_raw architecture: laplace, batch norm, pre-norm, classifier 2D wide, FFN follows H (chunk 250 given
    # instead of the default 1000 only to keep the test fast on CPU)
    assert (args.attention_activation_fn, args.norm_type, args.encoder_normalize_before) == ("laplace", "batchnorm",
                                                                                           True)
    assert (args.chunk_size, args.classifier_out_dim, args.encoder_ffn_embed_dim) == (250, 16, 16)
    state = load_checkpoint(save / "checkpoint_last.pt")["model"]
    assert int(state["encoder.encoder.final_norm.norm.num_batches_tracked"]) == 2
