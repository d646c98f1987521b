"""The outputs layer: report, failed file, summary, HTML report, progress, logging and atomic writes."""
