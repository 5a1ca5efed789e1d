# %post of lifeline-agent. $1: 1 on install, 2 or more on upgrade.
install -d -m 0700 /var/lib/lifeline-agent
if [ -n "${LIFELINE_ENROLL_TOKEN:-}" ]; then
    tmp=$(mktemp /etc/lifeline/.enroll.token.XXXXXX)
    printf '%s\n' "$LIFELINE_ENROLL_TOKEN" > "$tmp"
    mv -f "$tmp" /etc/lifeline/enroll.token
fi
unset LIFELINE_ENROLL_TOKEN
if [ -e /etc/lifeline/enroll.token ]; then
    chown root:root /etc/lifeline/enroll.token
    chmod 0600 /etc/lifeline/enroll.token
fi
# %systemd_post lifeline-agent.service
if [ "$1" -eq 1 ] && [ -x /usr/lib/systemd/systemd-update-helper ]; then
    /usr/lib/systemd/systemd-update-helper install-system-units lifeline-agent.service || :
fi
