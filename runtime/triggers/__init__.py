"""Triggers beyond HTTP: Redis messages and cron schedules, in every region.

No wasm here: `plan` says which component runs for which channel or schedule
and in which regions; the subscriber, the scheduler and the record of runs
call back into `serve`, which runs the component (`EdgeHost.run_trigger`).
"""
