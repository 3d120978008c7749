"""RQ jobs that talk to Slack: the scan thread, the build thread, and the publishing they share."""
