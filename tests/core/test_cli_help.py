"""Every command's help renders (a module in the commands package that is not a command broke
`synthts --help` once), and a bad setting is one line naming the variable, not a traceback."""

from __future__ import annotations

from click.testing import CliRunner

from synthts_core.cli import cli


def test_every_command_and_subcommand_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0, top.output
    ctx = cli.make_context("synthts", ["config"])
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None, name
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        for sub in getattr(command, "commands", {}):
            assert runner.invoke(cli, [name, sub, "--help"]).exit_code == 0, (name, sub)


def test_a_bad_setting_is_one_line_naming_it(tmp_path) -> None:
    env = {"SYNTHTS_DATA_DIR": str(tmp_path), "SYNTHTS_API_PORT": "not-a-port"}
    result = CliRunner().invoke(cli, ["config"], env=env)
    assert result.exit_code == 2
    assert "SYNTHTS_API_PORT" in result.output and "Traceback" not in result.output
    env = {"SYNTHTS_DATA_DIR": str(tmp_path), "SYNTHTS_JOB_HEARTBEAT_S": "100"}
    result = CliRunner().invoke(cli, ["config"], env=env)
    assert result.exit_code == 2 and "SYNTHTS_JOB_STALE_AFTER_S" in result.output
