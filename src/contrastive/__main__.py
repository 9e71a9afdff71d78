"""The command line: ``python -m contrastive train --dataset cifar10 --loss hard --tau 0.7 ...``.

Every field of :class:`contrastive.config.Config` is a flag of ``train`` (``--batch-size`` or ``--batch_size``),
generated from the dataclass, so the two cannot drift apart. Flags not given keep the values of the protocol named by
``--protocol`` (default: the paper's).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing

from .config import CHOICES, Config, ConfigError
from .train import Diverged, run

PROG = "python -m contrastive train"


def _optional(kind: type):
    """An argparse type for ``kind | None``: the word ``none`` gives None."""
    def convert(text: str):
        return None if text.lower() == "none" else kind(text)
    convert.__name__ = kind.__name__
    return convert


def _add_flag(parser: argparse.ArgumentParser, f: dataclasses.Field, hint) -> None:
    """The flag(s) of Config field ``f`` (type hint ``hint``): ``--batch-size`` and ``--batch_size``."""
    names = [f"--{f.name.replace('_', '-')}"] + ([f"--{f.name}"] if "_" in f.name else [])
    default = f.default_factory() if f.default is dataclasses.MISSING else f.default
    kw: dict = {"dest": f.name, "default": argparse.SUPPRESS, "help": f"default: {default}"}
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    if base is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(base) is tuple:
        kw.update(nargs="*", type=int, metavar="EPOCH")
    else:
        kw["type"] = _optional(base) if optional else base
        if f.name in CHOICES:
            kw["choices"] = CHOICES[f.name]
        if optional:
            kw["help"] += " ('none' for None)"
    parser.add_argument(*names, **kw)


def parser() -> argparse.ArgumentParser:
    """``python -m contrastive`` with its ``train`` command, one flag per Config field."""
    top = argparse.ArgumentParser(prog="python -m contrastive", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train, evaluate and write one run record",
                           usage=f"{PROG} [--FLAG VALUE ...]  (--help lists every flag)",
                           description="Train at a protocol (--protocol paper, cpu-short, ...) and write "
                                       "data/results/<protocol>/<dataset>/<loss>-tau<tau>-seed<seed>.json.")
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        _add_flag(train, f, hints[f.name])
    return top


def main(argv: list[str] | None = None) -> int:
    """Run ``train``; a bad value or file ends in one line and exit status 2 (before any training), a diverged run in
    one line and status 1, Ctrl-C in how to resume and status 130."""
    args = vars(parser().parse_args(argv))
    args.pop("command")
    config = None
    try:
        config = Config.at(args.pop("protocol", "paper"), **args)
        path = run(config)  # checks the data file, folders and sizes before any training
    except ConfigError as e:
        return _fail(f"argument --{e.field.replace('_', '-')}: {str(e).split(': ', 1)[1]}", 2)
    except Diverged as e:
        return _fail(str(e), 1)
    except ValueError as e:  # a bad data file, say: it names the file
        return _fail(str(e), 2)
    except KeyboardInterrupt:
        if config is None:  # interrupted while the configuration was being built: nothing ran
            return _fail("interrupted before the run started", 130)
        return _fail(f"interrupted; run the same command again to resume from the last checkpoint "
                     f"(written every {config.checkpoint_every} epochs under {config.checkpoint_dir})", 130)
    print(f"record written to {path}")
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
