"""The command line: ``python -m contrastive train --dataset cifar10 --loss hard --tau 0.7 ...``.

Every field of :class:`contrastive.config.Config` is a flag of ``train`` (``--batch-size`` or
``--batch_size``), generated from the dataclass, so the two cannot drift apart; its help is the
comment after the field (``config.field_help``) and the value of the protocol named by
``--protocol`` (``train --protocol cpu --help``). Flags not given keep the values of that protocol
(default: the paper's).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing

from .config import CHOICES, Config, ConfigError, field_help
from .protocols import PROTOCOLS
from .train import Diverged, checkpoint_path, run

PROG = "python -m contrastive train"


def _optional(kind: type):
    """An argparse type for ``kind | None``: the word ``none`` gives None."""

    def convert(text: str):
        return None if text.lower() == "none" else kind(text)

    convert.__name__ = kind.__name__
    return convert


def _add_flag(
    parser: argparse.ArgumentParser, f: dataclasses.Field, hint, meaning: str, default
) -> None:
    """The flag(s) of Config field ``f`` (type hint ``hint``): ``--batch-size`` and
    ``--batch_size``; its help is ``meaning`` and the value it takes when not given, ``default``."""
    names = [f"--{f.name.replace('_', '-')}"] + ([f"--{f.name}"] if "_" in f.name else [])
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    shown = "none" if default is None else shown
    text = f"{meaning} (default: {shown})".replace("%", "%%")
    kw: dict = {"dest": f.name, "default": argparse.SUPPRESS, "help": text}
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
    parser.add_argument(*names, **kw)


def defaults(protocol: str) -> dict:
    """What each Config field is when its flag is not given: the values of ``protocol`` (the paper's
    where it is not a protocol), the engine's defaults for the rest."""
    plain = {
        f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
        for f in dataclasses.fields(Config)
    }
    chosen = protocol if protocol in PROTOCOLS else "paper"
    return {**plain, **dataclasses.asdict(PROTOCOLS[chosen]), "protocol": chosen}


def parser(protocol: str = "paper") -> argparse.ArgumentParser:
    """``python -m contrastive`` with its ``train`` command, one flag per Config field, its help
    showing the values of ``protocol``."""
    top = argparse.ArgumentParser(prog="python -m contrastive", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train",
        help="train, evaluate and write one run record",
        usage=f"{PROG} [--FLAG VALUE ...]  (--help lists every flag)",
        description=f"Train at a protocol (--protocol paper, cpu, cpu-short; "
        f"the defaults below are the {protocol} protocol's) and "
        "write OUT/<protocol>/<dataset>/<loss>-tau<tau>-seed<seed>"
        ".json. Checkpoints lie in OUT/.checkpoints until the "
        "record is written; the same command resumes an "
        "interrupted run.",
    )
    hints, meanings, values = typing.get_type_hints(Config), field_help(), defaults(protocol)
    for f in dataclasses.fields(Config):
        _add_flag(train, f, hints[f.name], meanings[f.name], values[f.name])
    return top


def _protocol(argv: list[str]) -> str:
    """The value of ``--protocol`` in ``argv`` (default: paper), read before the full parser is
    built."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--protocol", default="paper")
    return early.parse_known_args(argv)[0].protocol


def main(argv: list[str] | None = None) -> int:
    """Run ``train``; a bad value or file ends in one line and exit status 2 (before any training), a diverged run in
    one line and status 1, Ctrl-C in how to resume and status 130."""
    argv = sys.argv[1:] if argv is None else argv
    args = vars(parser(_protocol(argv)).parse_args(argv))
    args.pop("command")
    config = None
    try:
        config = Config.at(args.pop("protocol", "paper"), **args)
        path = run(config)  # checks the data file, folders and sizes before any training
    except ConfigError as e:
        return _fail(f"argument --{e.field.replace('_', '-')}: {str(e).split(': ', 1)[1]}", 2)
    except Diverged as e:
        return _fail(str(e), 1)
    except ValueError as e:  # a bad data file, say: "data: <file>: <problem>"
        text = str(e)
        return _fail(f"argument --{text}" if text.startswith("data: ") else text, 2)
    except KeyboardInterrupt:
        return _fail(interrupted(config), 130)
    print(f"record written to {path}")
    return 0


def interrupted(config: Config | None) -> str:
    """The line a Ctrl-C ends in: how to go on from where the run was."""
    if config is None:  # interrupted while the configuration was being built: nothing ran
        return "interrupted before the run started"
    path = checkpoint_path(config)
    if path.is_file():
        return (
            f"interrupted; run the same command again to resume from its last checkpoint ({path})"
        )
    return "interrupted before its first checkpoint; run the same command again to start it afresh"


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
