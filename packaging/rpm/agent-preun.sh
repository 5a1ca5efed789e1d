# %preun of lifeline-agent. $1: 0 on erase, 1 or more on upgrade.
# %systemd_preun lifeline-agent.service
if [ "$1" -eq 0 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then
    /usr/lib/systemd/systemd-update-helper remove-system-units lifeline-agent.service || :
fi
