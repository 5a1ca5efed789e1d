# %post of lifeline-server. $1: 1 on install, 2 or more on upgrade.
install -d -m 0700 -o lifeline-server -g lifeline-server /var/lib/lifeline-server
# %systemd_post lifeline-server.service
if [ "$1" -eq 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then
    /usr/lib/systemd/systemd-update-helper install-system-units lifeline-server.service || :
fi
