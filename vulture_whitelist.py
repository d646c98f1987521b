"""Names vulture cannot see being used: `make lint` runs `vulture runner vulture_whitelist.py`.

Each line names something a framework or a serializer reaches by name. Anything else vulture
reports is dead code: delete it rather than add it here.
"""
# ruff: noqa
_ = object()

# click: commands registered by decorators, and the help hook click calls on a group
demo  # runner/cli.py, @main.command
track  # runner/cli.py, @main.command
extend  # runner/cli.py, @main.command
simulate  # runner/simulator/cli.py, `sharebatch simulate`, loaded by name by cli.py's LazyGroup
_.format_commands  # runner/cli.py, LazyGroup: click.Group's help hook

# dataclass fields read through asdict() / setattr by status name (summary.json, RowStatus values)
duplicate  # runner/outputs/report.py Summary
revoked  # runner/outputs/report.py Summary
already_ended  # runner/outputs/report.py Summary
extended  # runner/outputs/report.py Summary
permanent  # runner/outputs/report.py Summary: counted in batches/results.py, read through asdict
started_at  # runner/outputs/report.py Summary
permanent  # runner/outputs/report.py Summary (counted by name in the summary table)

# the simulator's test aid: tests decode the tokens it issued
_.decode_claims  # runner/simulator/tokens.py

# logging.Formatter reads it to stamp each text line (runner/outputs/logsetup.py: UTC)
_.converter

# rich reads it when it renders the bar
_.complete_style  # runner/outputs/progress.py: the bar turns red at the first failed row

# hooks the standard library calls by name
_._missing_  # runner/models.py RowStatus: enum look-up of a value older versions wrote

# openpyxl reads these cell attributes when it saves failed.xlsx (text cells, number format "@")
_.data_type  # runner/outputs/report.py _write_xlsx
_.number_format  # runner/outputs/report.py _write_xlsx

# a test aid of the in-process simulator (tests/integration/test_simulator_timefaults.py)
_.late_applies_landed  # runner/simulator/server.py

# expat reads its handlers and buffering settings from attributes set on the parser (runner/input/xmlstream.py)
_.buffer_text
_.buffer_size
_.StartDoctypeDeclHandler
_.EntityDeclHandler
_.UnparsedEntityDeclHandler
_.ExternalEntityRefHandler
_.StartElementHandler
_.EndElementHandler
_.CharacterDataHandler

# runner.api's keyword options (TypedDicts): a caller passes them by name, the job spec reads them by key
deadline  # runner/api/options.py SendingOptions
max_retry_after  # runner/api/options.py SendingOptions

# read by tests/test_cover_marks.py, which compares the share model with the simulator after every row
_.open_shares  # runner/shares/model.py DeviceModel
