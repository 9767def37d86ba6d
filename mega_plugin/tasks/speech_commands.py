"""``--task speech_commands``: Speech Commands (10 or 35 classes) on raw 16 kHz audio, original data layout.

Reads the original's preprocessed tensors ``DATA/processed_data/<variant>/{train,val,test}_{X,y}.pt``
(``valid`` reads ``val``); ``<variant>`` is ``raw`` (``mfcc`` with ``--mfcc``), ``raw_dropped<rate>`` with
``--sc-dropped-rate``, plus ``_all_classes`` with ``--sc-all-classes``. Nothing is downloaded or processed; see
:mod:`mega_plugin.data.speech_commands_dataset` for the batch layout. As in the original, the stored order is
kept (``--no-shuffle`` is accepted but changes nothing; fairseq still shuffles the order of the batches).
"""

import os

from fairseq.tasks import register_task

from mega_plugin.data.speech_commands_dataset import SpeechCommandsDataset, load_split, variant_name
from mega_plugin.tasks.classification_base import ClassificationTask, add_classification_task_args


@register_task("speech_commands")
class SpeechCommandsTask(ClassificationTask):
    @staticmethod
    def add_args(parser):
        add_classification_task_args(parser)
        parser.add_argument("--sc-all-classes", action="store_true", default=False, help="all 35 classes")
        parser.add_argument("--sc-dropped-rate", type=float, default=0.0,
                            help="percentage of dropped samples (selects the raw_dropped<rate> data)")
        parser.add_argument("--mfcc", action="store_true", default=False, help="MFCC features instead of raw audio")

    @classmethod
    def setup_task(cls, args, **kwargs):
        return cls(args)

    def data_folder(self) -> str:
        name = variant_name(self.args.mfcc, self.args.sc_dropped_rate, self.args.sc_all_classes)
        return os.path.join(self.args.data, "processed_data", name)

    def load_dataset(self, split, combine=False, **kwargs):
        dataset = SpeechCommandsDataset(*load_split(self.data_folder(), split))
        self.datasets[split] = dataset
        return dataset
