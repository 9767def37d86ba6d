"""Helpers shared by the task tests: parse a task's own flags, collate a whole split, binarize text."""

import argparse

from fairseq.data import indexed_dataset


def flag_defaults(task_cls) -> dict:
    """``{dest: default}`` of the flags ``task_cls.add_args`` registers (positional ``data`` left out)."""
    parser = argparse.ArgumentParser()
    task_cls.add_args(parser)
    return {action.dest: action.default for action in parser._actions if action.dest not in ("help", "data")}


def parse_task_args(task_cls, data, *flags, **values) -> argparse.Namespace:
    """The task's flags parsed from ``data flags...``, then ``values`` set on top."""
    parser = argparse.ArgumentParser()
    task_cls.add_args(parser)
    args = parser.parse_args([str(data), *map(str, flags)])
    for key, value in values.items():
        setattr(args, key, value)
    return args


def batch_of(task, split="test"):
    """One collated batch holding every sample of ``split``, in stored order."""
    dataset = task.load_dataset(split)
    return dataset.collater([dataset[i] for i in range(len(dataset))])


def binarize(lines, dictionary, prefix):
    """Write ``lines`` as fairseq-preprocess would (mmap, ``</s>`` appended to every line)."""
    builder = indexed_dataset.make_builder(indexed_dataset.data_file_path(str(prefix)), "mmap",
                                           vocab_size=len(dictionary))
    for line in lines:
        builder.add_item(dictionary.encode_line(line, add_if_not_exist=False, append_eos=True).long())
    builder.finalize(indexed_dataset.index_file_path(str(prefix)))
