"""Where runs train in a server: worker threads, fair shares, mailboxes (runner.py)."""
