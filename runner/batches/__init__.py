"""The journaled batch run: its out dir and history, the job spec, the run itself and its actions."""
