# %postun of lifeline-agent. $1: 0 on erase, 1 or more on upgrade. Erase keeps /var/lib/lifeline-agent (the
# machine's identity); delete it by hand to forget this machine.
# %systemd_postun_with_restart lifeline-agent.service
if [ "$1" -ge 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then
    /usr/lib/systemd/systemd-update-helper mark-restart-system-units lifeline-agent.service || :
fi
