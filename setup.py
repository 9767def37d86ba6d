"""mega_plugin: Mega (Ma et al. 2022) as a fairseq 0.12 --user-dir plugin, plus HF converters."""

import pathlib

from setuptools import find_packages, setup

HF = ["transformers>=4.29,<5", "safetensors"]
LRA = ["pillow", "matplotlib"]  # LRA image data (JPEG/PNG) and the results plot

setup(
    name="mega_plugin",
    version="0.1.0",
    description="Mega: Moving Average Equipped Gated Attention, as a fairseq 0.12 plugin",
    long_description=(pathlib.Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["mega_plugin", "mega_plugin.*", "conversion", "conversion.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.4",  # torch.serialization.add_safe_globals (safe checkpoint loading)
        'fairseq>=0.12.2; python_version<"3.11"',
        'fairseq-fixed>=0.12.3; python_version>="3.11"',
        "sentencepiece",
        "sacrebleu",
        "numpy",
    ],
    extras_require={"hf": HF, "lra": LRA, "test": ["pytest", "hypothesis"] + HF + LRA},
    entry_points={
        # console scripts: one line per command, "name=module:function"
        "console_scripts": [
            "mega-eval-lm=mega_plugin.cli.eval_lm:main",
            "mega-convert=conversion.cli:main",
        ]
    },
)
