"""Running the pipeline: the stages in order, by hand, from cron or as a daemon.

Owns: the orchestration (`pipeline`: gather → select → render → archive →
deliver, and `run_once` for unattended runs), the one rule for when an issue
is published or skipped (`schedule`), the APScheduler daemon (`daemon`), the
report of each run (`runreport`), the terminal's progress bar and signal
handling (`console`), `explain`: why each story of a week landed in its
section, as the classifier saw it, `inbox`: reading returned mail and acting
on what `digest.mail.inbound` says it is, and `links`: refusing to mail readers
links on a placeholder domain.

Never touches: a decision of its own. Every choice is made by the pure stage
it belongs to (`digest.editorial`, `schedule.decide`); this package moves data
between the stages and the store, and nothing below it imports it.
"""
