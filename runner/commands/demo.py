"""`sharebatch demo`: the sample batch against an in-process simulator.

The demo job, its input and the simulator's device file travel as package data (runner/demo/),
so the demo works from any folder once the package is installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from runner.batches.jobspec import load_job_spec
from runner.batches.results import BatchResult
from runner.batches.run import run_batch
from runner.commands.console import interactive, log_format_of, print_result
from runner.engine.journal import JOURNAL_FILES
from runner.errors import ExitCode
from runner.outputs.logsetup import configure_logging
from runner.platform.auth.tokens import AuthSettings
from runner.redact import Secret
from runner.simulator import SimulatorConfig, start_simulator

DEMO_SIMULATOR = SimulatorConfig(latency_ms=5, jitter_ms=5, fault_rate=0.03, slow_fault_s=4.0, seed=1)


async def run_demo(out: Path, *, interactive: bool = False) -> BatchResult:
    demo_files = resources.files("runner") / "demo"
    with resources.as_file(demo_files) as demo_dir:
        config = SimulatorConfig(**{**vars(DEMO_SIMULATOR), "devices_file": demo_dir / "devices.json"})
        simulator = await start_simulator(config)
        try:
            spec = load_job_spec(
                demo_dir / "demo.toml",
                {"input": str(demo_dir / "shares.csv"), "out": str(out), "base_url": simulator.base_url},
            )
            # The demo starts over each time: the simulator is new, so an old journal means nothing.
            for name in JOURNAL_FILES:
                (spec.out / name).unlink(missing_ok=True)
            auth = AuthSettings(access_token=Secret(simulator.access_token))
            return await run_batch(spec, auth, interactive=interactive)
        finally:
            await simulator.close()


def demo_command(out: Path, *, debug: bool, log_format: str, quiet: bool) -> int:
    """Run the demo, print the summary; exit 0 when it ran as designed (its failing rows are on purpose)."""
    import asyncio

    configure_logging(debug=debug, log_format=log_format_of(log_format), quiet=quiet)
    result = asyncio.run(run_demo(out, interactive=interactive(log_format, quiet)))
    print_result(result, log_format)
    return int(ExitCode.OK if result.exit_code in (ExitCode.OK, ExitCode.ROWS_FAILED) else result.exit_code)
