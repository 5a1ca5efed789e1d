# %postun of lifeline-server. $1: 0 on erase, 1 or more on upgrade. Erase keeps /var/lib/lifeline-server (the
# database and the CA) and the system user, as rpm packages do.
# %systemd_postun_with_restart lifeline-server.service
if [ "$1" -ge 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then
    /usr/lib/systemd/systemd-update-helper mark-restart-system-units lifeline-server.service || :
fi
