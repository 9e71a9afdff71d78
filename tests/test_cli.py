"""The command line: one flag per Config field, parsed into the right types, errors naming the flag."""

import dataclasses

import pytest

from contrastive import __main__ as cli
from contrastive import config as config_module
from contrastive.config import Config
from contrastive.protocols import PROTOCOLS


@pytest.fixture
def captured(monkeypatch, tmp_path):
    seen = {}

    def fake_run(config):
        seen["config"] = config
        return tmp_path / "record.json"

    monkeypatch.setattr(cli, "run", fake_run)
    return seen


def test_every_config_field_is_a_flag():
    train = cli.parser()._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions if a.dest != "help"}
    assert dests == {f.name for f in dataclasses.fields(Config)}


def test_flags_are_parsed_into_config_types(captured, capsys, tmp_path):
    cli.main(
        [
            "train",
            "--dataset",
            "cifar10",
            "--data",
            "x.npz",
            "--subset",
            "1000",
            "--loss",
            "hard",
            "--tau",
            "0.7",
            "--k",
            "999",
            "--epochs",
            "3",
            "--milestones",
            "1",
            "2",
            "--no-hflip",
            "--compile",
            "--knn-k",
            "10",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
            "--test_subset",
            "none",
        ]
    )
    c = captured["config"]
    assert (c.subset, c.loss, c.tau, c.k, c.epochs, c.milestones) == (
        1000,
        "hard",
        0.7,
        999,
        3,
        (1, 2),
    )
    assert (c.hflip, c.compile, c.knn_k, c.test_subset, c.data) == (False, True, 10, None, "x.npz")
    assert c.lr == Config.lr and c.batch_size == 128  # untouched flags keep the paper's defaults
    assert f"record written to {tmp_path / 'record.json'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--tau", "-1"], "--tau"),
        (["--tau", "hot"], "--tau"),
        (["--epochs", "0"], "--epochs"),
        (["--loss", "infonce"], "--loss"),
        (["--loss", "hard", "--subset", "100"], "--k"),
        (["--milestones", "9", "3"], "--milestones"),
        (["--batch-size", "2.5"], "--batch-size"),
    ],
)
def test_bad_values_stop_with_an_error_naming_the_flag(argv, flag, captured, capsys):
    assert exit_status(["train", "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert (
        f"argument {flag}" in err and len(err.strip().splitlines()) <= 2
    )  # one line (argparse adds its usage line)
    assert "config" not in captured


def exit_status(argv):
    """The exit status of the command line: main's return value, or argparse's SystemExit code."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


def test_protocol_flag_starts_from_that_protocol(captured):
    assert exit_status(["train", "--protocol", "cpu-short", "--device", "cpu", "--lr", "0.05"]) == 0
    c, cpu = captured["config"], PROTOCOLS["cpu-short"]
    assert (c.protocol, c.arch, c.subset, c.epochs, c.k, c.lr) == (
        "cpu-short",
        "resnet18_w16",
        cpu.subset,
        cpu.epochs,
        cpu.k,
        0.05,
    )


@pytest.mark.parametrize(
    "error, status, text",
    [
        (
            ValueError("data: /x.npz: no such file"),
            2,
            "error: argument --data: /x.npz: no such file",
        ),
        (KeyboardInterrupt(), 130, "interrupted before its first checkpoint; run the same command"),
    ],
)
def test_faults_end_in_one_line(monkeypatch, capsys, error, status, text):
    def fail(config):
        raise error

    monkeypatch.setattr(cli, "run", fail)
    assert exit_status(["train", "--device", "cpu"]) == status
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_while_the_configuration_is_built_ends_in_one_line(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(config_module.Config, "at", classmethod(interrupted))
    assert exit_status(["train", "--device", "cpu"]) == 130
    err = capsys.readouterr().err
    assert "interrupted before the run started" in err and len(err.strip().splitlines()) == 1


# --- issue 30: help that explains, failures before training in one line -------------------------


def help_text(capsys, *argv):
    with pytest.raises(SystemExit):
        cli.main(["train", *argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_help_gives_every_flag_its_meaning_and_the_protocols_values(capsys):
    meanings = config_module.field_help()
    assert set(meanings) == {f.name for f in dataclasses.fields(Config)} and all(meanings.values())
    paper, cpu = help_text(capsys), help_text(capsys, "--protocol", "cpu")
    assert "epochs of SGD (the paper's 200) (default: 200)" in paper
    assert "(default: resnet18)" in paper and "(default: resnet18_w16)" in cpu
    assert "(default: 144 171)" in cpu and "(default: 160 190)" in paper
    assert "the cpu protocol's" in cpu and "epochs of SGD (the paper's 200) (default: 180)" in cpu
    assert "the temperature τ (a schedule's base value) (default: 0.07)" in cpu
    train = cli.parser()._subparsers._group_actions[0].choices["train"]
    assert all(a.help and not a.help.startswith("default:") for a in train._actions)


def test_ctrl_c_names_the_checkpoint_it_resumes_from(monkeypatch, capsys, tmp_path):
    def interrupted(config):
        path = cli.checkpoint_path(config)
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run", interrupted)
    assert exit_status(["train", "--device", "cpu", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "run the same command again to resume from its last checkpoint (" in err


TINY = [
    "--arch",
    "tiny",
    "--subset",
    "40",
    "--epochs",
    "1",
    "--probe-epochs",
    "1",
    "--knn-k",
    "5",
    "--device",
    "cpu",
]


def test_offline_without_data_is_one_line_saying_what_to_pass(monkeypatch, capsys, tmp_path):
    import urllib.error

    import torchvision

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    argv = ["train", *TINY, "--out", str(tmp_path / "out"), "--datasets", str(tmp_path / "d")]
    assert exit_status(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no network?" in err
    assert "--data path/to/cifar10-jpeg.npz" in err


@pytest.mark.parametrize(
    "extra, text",
    [
        (["--data", "{tmp}"], "argument --data: {tmp}: a folder, not a file"),
        (
            ["--dataset", "cifar100", "--data", "x.npz"],
            "argument --data: x.npz: the offline npz holds CIFAR-10",
        ),
    ],
)
def test_bad_data_is_one_line_and_exit_2(capsys, tmp_path, extra, text):
    argv = [
        "train",
        *TINY,
        "--out",
        str(tmp_path / "out"),
        *[e.format(tmp=tmp_path) for e in extra],
    ]
    assert exit_status(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and text.format(tmp=tmp_path) in err
