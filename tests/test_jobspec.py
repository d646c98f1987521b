"""load_job_spec: a TOML job file plus flag overrides, merged into one validated JobSpec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.batches.baseurl import REGION_BASE_URLS
from runner.batches.jobspec import (
    DEFAULT_CONCURRENCY,
    DEFAULT_COVER_MARK,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RATE,
    DEFAULT_TIMEOUT_S,
    JobSpec,
    load_job_spec,
)
from runner.errors import UsageError


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory for the test."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """A folder for job files, away from the current directory."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    return folder


def write_job(folder: Path, text: str, name: str = "nightly.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(job_file: Path | None = None, **overrides: Any) -> JobSpec:
    return load_job_spec(job_file, overrides)


def usage_error(job_file: Path | None = None, **overrides: Any) -> str:
    with pytest.raises(UsageError) as caught:
        load_job_spec(job_file, overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- defaults and merging ----------------------------------------------------------------------------


def test_flags_alone_give_the_documented_defaults(workdir: Path) -> None:
    spec = load(input="shares.csv")
    assert spec == JobSpec(
        name="shares", input=Path("shares.csv"), out=Path("out/shares"), base_url=None, rate=DEFAULT_RATE,
        concurrency=DEFAULT_CONCURRENCY, max_attempts=DEFAULT_MAX_ATTEMPTS, timeout_s=DEFAULT_TIMEOUT_S,
        cover_mark=DEFAULT_COVER_MARK, expiry=None, timezone="UTC", sheet=None, encoding="utf-8",
        retry_codes=frozenset(), allow_insecure_http=False, columns={},
    )
    assert (spec.rate, spec.concurrency, spec.max_attempts, spec.cover_mark) == (5.0, 4, 5, 1)


def test_flags_override_the_job_file(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "shares.csv"\nrate = 2\nconcurrency = 2\ncover_mark = 1\nexpiry = "30d"\n')
    spec = load(job, rate=8.0, cover_mark=2, concurrency=None, expiry=None)
    assert spec.rate == 8.0
    assert spec.cover_mark == 2
    assert spec.concurrency == 2  # a flag left unset (None) does not override
    assert spec.expiry == "30d"


def test_job_file_values_are_read_and_typed(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, """
name = "march"
input = "shares.xlsx"
sheet = "Devices"
region = "eu"
rate = 3
max_attempts = 2
timeout_s = 10
timezone = "Asia/Shanghai"
encoding = "gbk"
retry_codes = [5134]

[columns]
dk = "Device Key"
recipient = "Email"
""")
    spec = load(job)
    assert spec.name == "march"
    assert spec.sheet == "Devices"
    assert spec.base_url == REGION_BASE_URLS["eu"]
    assert (spec.rate, spec.max_attempts, spec.timeout_s) == (3.0, 2, 10.0)
    assert isinstance(spec.rate, float)
    assert spec.timezone == "Asia/Shanghai"
    assert spec.encoding == "gbk"
    assert spec.retry_codes == frozenset({5134})
    assert spec.columns == {"dk": "Device Key", "recipient": "Email"}


def test_relative_paths_in_the_job_file_resolve_from_its_folder(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "data/shares.csv"\nout = "results"\n')
    spec = load(job)
    assert spec.input == job_dir.resolve() / "data/shares.csv"
    assert spec.out == job_dir.resolve() / "results"


def test_relative_flag_paths_stay_relative_to_the_current_directory(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "data/shares.csv"\nout = "results"\n')
    spec = load(job, input=Path("mine.csv"), out=Path("elsewhere"))  # the CLI passes Path objects
    assert spec.input == Path("mine.csv")
    assert spec.out == Path("elsewhere")


def test_absolute_paths_in_the_job_file_are_kept(workdir: Path, job_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "abs" / "shares.csv"
    job = write_job(job_dir, f'input = "{target.as_posix()}"\n')
    assert load(job).input == target


def test_default_out_sits_beside_the_job_file_whatever_the_current_folder(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "shares.csv"\n', name="march-rollout.toml")
    spec = load(job)
    assert spec.name == "march-rollout"
    assert spec.out == job_dir.resolve() / "out" / "march-rollout"


def test_default_out_without_a_job_file_is_named_after_the_input(workdir: Path) -> None:
    assert load(input=Path("data/customers.xlsx")).out == Path("out/customers")


def test_missing_input_is_an_error_that_says_how_to_give_one(workdir: Path) -> None:
    assert "--input" in usage_error(rate=2.0)


# --- the job file itself -----------------------------------------------------------------------------


def test_unknown_key_is_named(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "shares.csv"\nmax_retries = 3\n')
    message = usage_error(job)
    assert "`max_retries`" in message
    assert str(job) in message


@pytest.mark.parametrize(
    ("line", "key"),
    [('rate = "fast"', "rate"), ("concurrency = 1.5", "concurrency"), ("cover_mark = true", "cover_mark"),
     ("max_attempts = true", "max_attempts"), ('retry_codes = ["5134"]', "retry_codes"), ("input = 3", "input"),
     ('allow_insecure_http = "yes"', "allow_insecure_http"), ('columns = "dk"', "columns")],
)
def test_value_of_the_wrong_type_names_its_key(workdir: Path, job_dir: Path, line: str, key: str) -> None:
    job = write_job(job_dir, f'input = "shares.csv"\n{line}\n') if key != "input" else write_job(job_dir, line)
    assert f"`{key}`" in usage_error(job)


@pytest.mark.parametrize(
    ("line", "key"),
    [("rate = 0", "rate"), ("rate = -1.5", "rate"), ("rate = nan", "rate"), ("rate = inf", "rate"),
     ("timeout_s = 0", "timeout_s"), ("concurrency = 0", "concurrency"), ("max_attempts = 0", "max_attempts"),
     ("cover_mark = 4", "cover_mark"), ("cover_mark = 0", "cover_mark")],
)
def test_value_out_of_range_names_its_key(workdir: Path, job_dir: Path, line: str, key: str) -> None:
    job = write_job(job_dir, f'input = "shares.csv"\n{line}\n')
    assert f"`{key}`" in usage_error(job)


@pytest.mark.parametrize(("flag", "value"), [("rate", 0.0), ("concurrency", 0), ("max_attempts", 0), ("cover_mark", 4)])
def test_flag_out_of_range_names_its_key(workdir: Path, flag: str, value: float) -> None:
    with pytest.raises(UsageError, match=f"`{flag}`"):
        load_job_spec(None, {"input": "shares.csv", flag: value})


def test_bad_toml_is_one_line_naming_the_file(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "shares.csv"\nrate = = 5\n[columns\n')
    message = usage_error(job)
    assert message.startswith(f"{job}: not valid TOML")


def test_job_file_that_is_not_utf8_is_a_usage_error(workdir: Path, job_dir: Path) -> None:
    job = job_dir / "latin.toml"
    job.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    assert str(job) in usage_error(job)


def test_missing_job_file_is_named(workdir: Path, job_dir: Path) -> None:
    missing = job_dir / "nope.toml"
    assert usage_error(missing) == f"{missing}: job file not found"


# --- base URL and region -----------------------------------------------------------------------------


def test_plain_http_to_a_remote_host_is_refused(workdir: Path) -> None:
    message = usage_error(input="s.csv", base_url="http://iot-api.acceleronix.io")
    assert "http" in message
    assert "--allow-insecure-http" in message


def test_plain_http_to_a_remote_host_is_accepted_when_allowed(workdir: Path) -> None:
    spec = load(input="s.csv", base_url="http://gateway.internal:8080/", allow_insecure_http=True)
    assert spec.base_url == "http://gateway.internal:8080"
    assert spec.allow_insecure_http is True


def test_allow_insecure_http_in_the_job_file_counts(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "s.csv"\nbase_url = "http://gateway.internal"\nallow_insecure_http = true\n')
    assert load(job, allow_insecure_http=None).base_url == "http://gateway.internal"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:9000/", "http://[::1]:8080", "http://127.0.0.2", "https://example.org"],
)
def test_loopback_http_and_any_https_are_accepted(workdir: Path, url: str) -> None:
    assert load(input="s.csv", base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://localhost.example.com", "http://127.0.0.1.nip.io", "http://10.0.0.1"])
def test_hosts_that_only_look_local_are_not_loopback(workdir: Path, url: str) -> None:
    assert "--allow-insecure-http" in usage_error(input="s.csv", base_url=url)


@pytest.mark.parametrize("url", ["ftp://iot-api.acceleronix.io", "iot-api.acceleronix.io", "https://"])
def test_base_url_that_is_not_http_is_refused(workdir: Path, url: str) -> None:
    assert "`base_url`" in usage_error(input="s.csv", base_url=url)


@pytest.mark.parametrize(("region", "url"), [("eu", "https://iot-api.acceleronix.io"),
                                             ("cn", "https://iot-api.quectelcn.com")])
def test_region_picks_the_documented_base_url(workdir: Path, region: str, url: str) -> None:
    assert load(input="s.csv", region=region).base_url == url


def test_region_with_its_own_base_url_is_accepted(workdir: Path) -> None:
    assert load(input="s.csv", region="cn", base_url="https://iot-api.quectelcn.com").base_url == REGION_BASE_URLS["cn"]


def test_region_with_a_different_base_url_is_refused(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "s.csv"\nregion = "eu"\nbase_url = "https://iot-api.quectelcn.com"\n')
    message = usage_error(job)
    assert "`base_url`" in message
    assert "`region`" in message


def test_unknown_region_is_refused(workdir: Path) -> None:
    assert "`region`" in usage_error(input="s.csv", region="us")


# --- timezone and columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/berlin "])
def test_unknown_timezone_is_refused_by_name(workdir: Path, zone: str) -> None:
    message = usage_error(input="s.csv", timezone=zone)
    assert "`timezone`" in message
    assert repr(zone) in message


def test_columns_table_with_an_unknown_canonical_name_is_refused(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "s.csv"\n[columns]\ndevice_key = "DK"\n')
    message = usage_error(job)
    assert "`device_key`" in message
    assert "[columns]" in message


def test_columns_table_with_an_empty_header_is_refused(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "s.csv"\n[columns]\ndk = ""\n')
    assert "`dk`" in usage_error(job)


def test_a_bad_flag_value_is_blamed_on_the_flag_not_the_job_file(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('input = "x.csv"\nrate = 3\n')
    with pytest.raises(UsageError) as caught:
        load_job_spec(job, {"rate": -2.0})
    assert str(caught.value).startswith("option --rate:")
    assert str(job) not in str(caught.value)


# --- what the commands ask of a spec -----------------------------------------------------------------


def test_require_base_url_returns_the_checked_url(workdir: Path) -> None:
    assert load(input="s.csv", region="eu").require_base_url() == REGION_BASE_URLS["eu"]


def test_require_base_url_without_one_says_how_to_give_it(workdir: Path) -> None:
    with pytest.raises(UsageError, match=r"^no base URL: give --base-url URL or --region eu\|cn"):
        load(input="s.csv").require_base_url()


def test_skip_existing_comes_from_the_job_file_or_the_flag(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('input = "shares.csv"\nskip_existing = true\n')
    assert load_job_spec(job, {}).skip_existing is True
    assert load_job_spec(None, {"input": "x.csv"}).skip_existing is False
    assert load_job_spec(None, {"input": "x.csv", "skip_existing": True}).skip_existing is True
    job.write_text('input = "shares.csv"\nskip_existing = "yes"\n')
    with pytest.raises(UsageError, match="`skip_existing` must be true or false"):
        load_job_spec(job, {})


# --- column options ----------------------------------------------------------------------------------


def test_map_options_parse_to_a_mapping_and_refuse_bad_forms() -> None:
    from runner.batches.jobspec import parse_column_map

    assert parse_column_map(("dk=IMEI", "expiry=Valid until=x")) == {"dk": "IMEI", "expiry": "Valid until=x"}
    assert parse_column_map(()) is None
    for bad, says in (("IMEI", "must be COLUMN=HEADER"), ("device=IMEI", 'unknown column "device"'),
                      ("dk=", "must be COLUMN=HEADER"), ("dk=a", "mapped twice")):
        with pytest.raises(UsageError, match=says):
            parse_column_map(("dk=b", bad) if says == "mapped twice" else (bad,))


def test_map_and_ignore_flags_add_to_the_job_file(workdir: Path, job_dir: Path) -> None:
    job = write_job(job_dir, 'input = "s.csv"\nheader_row = 3\nignore_columns = ["Type"]\n'
                             '[columns]\ndk = "IMEI"\nrecipient = "Kunde"\n')
    spec = load_job_spec(job, {"columns": {"recipient": "Mail"}, "ignore_columns": ["Note"]})
    assert spec.columns == {"dk": "IMEI", "recipient": "Mail"}
    assert spec.ignore_columns == ("Type", "Note")
    assert spec.header_row == 3


@pytest.mark.parametrize(("line", "says"), [("header_row = 0", "1 or more"), ("header_row = true", "row number"),
                                            ("ignore_columns = [1]", "list of header names"),
                                            ('ignore_columns = "Type"', "list of header names")])
def test_bad_column_options_in_a_job_file_are_refused(workdir: Path, job_dir: Path, line: str, says: str) -> None:
    job = write_job(job_dir, f'input = "s.csv"\n{line}\n')
    with pytest.raises(UsageError, match=says):
        load_job_spec(job, {})


def test_include_hidden_is_read_from_the_job_file_and_names_the_batch_only_when_set(workdir: Path,
                                                                                   job_dir: Path) -> None:
    from runner.batches.sharerows import share_batch_settings

    plain = load_job_spec(write_job(job_dir, 'input = "s.csv"\n'), {})
    hidden = load_job_spec(write_job(job_dir, 'input = "s.csv"\ninclude_hidden = true\n', "h.toml"), {})
    assert (plain.include_hidden, hidden.include_hidden) == (False, True)
    assert "include_hidden" not in share_batch_settings(plain)  # a batch started before the option keeps its name
    assert share_batch_settings(hidden)["include_hidden"] is True
